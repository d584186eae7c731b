"""``verify_access_token``: check a Keyward access token locally with PyJWT and Keyward's
published keys (``/.well-known/jwks.json``, cached), on a service's hot path with no call to
Keyward. The checks follow RFC 8725 and RFC 9068: EdDSA only, ``typ: at+jwt``, the key only from
Keyward's key set by ``kid``, and ``iss``, ``aud``, ``exp``."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import jwt

__all__ = ["AccessTokenClaims", "AccessTokenError", "verify_access_token"]

#: Keyward signs access tokens with Ed25519 (``alg: EdDSA``); nothing else is accepted, so an
#: ``alg: none`` or HMAC-with-the-public-key token is refused before any key is used.
_ALGORITHMS = ["EdDSA"]
_TYPES = {"at+jwt", "application/at+jwt"}
#: How long a fetched key set is used before it is fetched again. A token with an unknown ``kid``
#: (a key rotated in since) refetches at once, but at most once per cooldown: forged tokens with
#: made-up key ids must not turn into a stream of requests to Keyward.
_JWKS_LIFESPAN_SECONDS = 300
_JWKS_REFETCH_COOLDOWN_SECONDS = 30

_jwks_clients: dict[str, jwt.PyJWKClient] = {}
_jwks_lock = threading.Lock()


class AccessTokenError(Exception):
    """The token was refused. ``reason`` says which check failed: ``malformed``, ``type``,
    ``unknown_key``, ``signature``, ``expired``, ``audience``, ``issuer``, ``claims``, or
    ``keys_unavailable`` (the key set could not be fetched)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True)
class AccessTokenClaims:
    """The claims of a token that passed every check."""

    #: The user id.
    sub: str
    #: The session id: call ``get_session(token)`` when revocation must show at once.
    sid: str
    iss: str
    aud: str
    #: Seconds since the epoch.
    exp: int
    iat: int
    jti: str | None
    #: The roles an operator gave the user when the token was issued; empty for none (also
    #: for tokens from before roles existed). See ``has_role``.
    roles: tuple[str, ...] = ()

    def has_role(self, *roles: str) -> bool:
        """Whether the token carries at least one of ``roles`` (False when none is asked for)."""
        return any(role in self.roles for role in roles)


def _jwks_client(url: str) -> jwt.PyJWKClient:
    with _jwks_lock:
        client = _jwks_clients.get(url)
        if client is None:
            client = jwt.PyJWKClient(
                url,
                cache_jwk_set=True,
                lifespan=_JWKS_LIFESPAN_SECONDS,
                cooldown_duration=_JWKS_REFETCH_COOLDOWN_SECONDS,
                timeout=10,
            )
            _jwks_clients[url] = client
        return client


def verify_access_token(
    token: str,
    *,
    issuer: str,
    audience: str = "keyward",
    jwks_url: str | None = None,
    leeway: float = 0,
) -> AccessTokenClaims:
    """Verifies ``token`` and returns its claims; raises ``AccessTokenError`` otherwise.

    ``issuer`` is Keyward's ``issuer`` setting (by default its own address, e.g.
    ``http://127.0.0.1:50051``); the keys are fetched from ``<issuer>/.well-known/jwks.json``
    unless ``jwks_url`` says otherwise. ``leeway`` (seconds) allows for clock skew on ``exp``.
    The first call per key set fetches it (a blocking HTTP GET: from asyncio code, call this
    through ``asyncio.to_thread`` or once at start-up); later calls are local.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise AccessTokenError("malformed", str(error)) from None
    if str(header.get("typ", "")).lower() not in _TYPES:
        raise AccessTokenError("type", f"typ is {header.get('typ')!r}, not at+jwt")
    if header.get("alg") not in _ALGORITHMS:
        raise AccessTokenError("signature", f"alg {header.get('alg')!r} is not allowed")

    url = jwks_url or issuer.rstrip("/") + "/.well-known/jwks.json"
    try:
        key = _jwks_client(url).get_signing_key_from_jwt(token)
    except jwt.PyJWKClientConnectionError as error:
        raise AccessTokenError("keys_unavailable", str(error)) from None
    except jwt.PyJWKClientError as error:
        raise AccessTokenError("unknown_key", str(error)) from None

    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=_ALGORITHMS,
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "sid"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise AccessTokenError("expired", str(error)) from None
    except jwt.InvalidAudienceError as error:
        raise AccessTokenError("audience", str(error)) from None
    except jwt.InvalidIssuerError as error:
        raise AccessTokenError("issuer", str(error)) from None
    except jwt.InvalidSignatureError as error:
        raise AccessTokenError("signature", str(error)) from None
    except jwt.PyJWTError as error:
        raise AccessTokenError("claims", str(error)) from None

    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise AccessTokenError("claims", "roles is not a list of strings")
    aud = claims["aud"]
    return AccessTokenClaims(
        sub=str(claims["sub"]),
        sid=str(claims["sid"]),
        iss=str(claims["iss"]),
        aud=aud if isinstance(aud, str) else ",".join(aud),
        exp=int(claims["exp"]),
        iat=int(claims["iat"]),
        jti=str(claims["jti"]) if "jti" in claims else None,
        roles=tuple(roles),
    )
