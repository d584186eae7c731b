"""``verify_access_token`` with PyJWT and a cached JWKS: a real Keyward token verifies; tokens
signed by another key, expired, for another audience, of another type or algorithm are refused;
the key set is fetched once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conftest import Server
from keyward_client import AccessTokenError, KeywardClient, verify_access_token

PASSWORD = "violet-otter-lamp-93"
ISSUER = "https://id.example.test"


@dataclass
class Jwks:
    url: str
    key: Ed25519PrivateKey
    ec_key: Any
    fetches: list[str]


def jwk(public_key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.OKPAlgorithm if alg == "EdDSA" else jwt.algorithms.ECAlgorithm
    return {**json.loads(algorithm.to_jwk(public_key)), "kid": kid, "alg": alg, "use": "sig"}


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    """A JWKS endpoint this test controls (an Ed25519 and a P-256 key), counting fetches."""
    key = Ed25519PrivateKey.generate()
    ec_key = generate_private_key(SECP256R1())
    body = json.dumps({"keys": [jwk(key.public_key(), "test-key", "EdDSA"), jwk(ec_key.public_key(), "ec-key", "ES256")]})
    fetches: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            fetches.append(self.path)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Jwks(f"http://127.0.0.1:{server.server_address[1]}/jwks.json", key, ec_key, fetches)
    finally:
        server.shutdown()
        thread.join()


def token(key: Any, *, alg: str = "EdDSA", kid: str = "test-key", typ: str = "at+jwt", **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": "keyward", "sub": "user-1", "sid": "session-1", "iat": now, "exp": now + 300, "jti": "j"}
    payload.update(claims)
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid, "typ": typ})


def test_a_real_keyward_access_token_verifies(keyward_server: Server, email: str) -> None:
    with KeywardClient(keyward_server.address) as keyward:
        keyward.register(email, PASSWORD)
        signed_in = keyward.login(email, PASSWORD)
    # Keyward's default issuer is its own address, where it also serves the key set.
    claims = verify_access_token(signed_in.access_token.token, issuer=f"http://{keyward_server.address}")
    assert (claims.sub, claims.sid, claims.aud) == (signed_in.user.id, signed_in.session.id, "keyward")
    assert claims.exp > time.time()


def test_a_token_signed_by_another_key_is_refused(keyward_server: Server, email: str) -> None:
    with KeywardClient(keyward_server.address) as keyward:
        keyward.register(email, PASSWORD)
        signed_in = keyward.login(email, PASSWORD)
    issuer = f"http://{keyward_server.address}"
    kid = jwt.get_unverified_header(signed_in.access_token.token)["kid"]
    forged = token(Ed25519PrivateKey.generate(), kid=kid, iss=issuer, sub=signed_in.user.id, sid=signed_in.session.id)
    with pytest.raises(AccessTokenError) as raised:
        verify_access_token(forged, issuer=issuer)
    assert raised.value.reason == "signature"
    # An unknown key id is refused too (after one refetch of the key set).
    with pytest.raises(AccessTokenError) as unknown:
        verify_access_token(token(Ed25519PrivateKey.generate(), kid="not-ours", iss=issuer), issuer=issuer)
    assert unknown.value.reason == "unknown_key"


def test_expired_wrong_audience_issuer_type_and_algorithm_are_refused(jwks: Jwks) -> None:
    now = int(time.time())
    good = verify_access_token(token(jwks.key), issuer=ISSUER, jwks_url=jwks.url)
    assert good.sub == "user-1"
    cases = [
        ("expired", token(jwks.key, iat=now - 600, exp=now - 60), "expired"),
        ("wrong audience", token(jwks.key, aud="another-service"), "audience"),
        ("wrong issuer", token(jwks.key, iss="https://evil.test"), "issuer"),
        ("an ID token (typ JWT)", token(jwks.key, typ="JWT"), "type"),
        ("ES256, though the key is in the JWKS", token(jwks.ec_key, alg="ES256", kid="ec-key"), "signature"),
        ("no session id", token(jwks.key, sid=None), "claims"),
        ("not a JWT", "not.a.jwt", "malformed"),
    ]
    for what, jwt_, reason in cases:
        with pytest.raises(AccessTokenError) as raised:
            verify_access_token(jwt_, issuer=ISSUER, jwks_url=jwks.url)
        assert raised.value.reason == reason, f"{what}: {raised.value}"
    # Within its lifespan the key set is fetched once, whatever the tokens.
    assert len(jwks.fetches) == 1
    # Made-up key ids right after a fetch: no refetch (one per 30 s cooldown at most), so forged
    # tokens cannot make this service hammer Keyward's key set.
    for _ in range(5):
        with pytest.raises(AccessTokenError) as unknown:
            verify_access_token(token(jwks.key, kid="made-up"), issuer=ISSUER, jwks_url=jwks.url)
        assert unknown.value.reason == "unknown_key"
    assert len(jwks.fetches) == 1


def test_leeway_accepts_a_token_just_expired(jwks: Jwks) -> None:
    now = int(time.time())
    just_expired = token(jwks.key, iat=now - 300, exp=now - 5)
    with pytest.raises(AccessTokenError):
        verify_access_token(just_expired, issuer=ISSUER, jwks_url=jwks.url)
    assert verify_access_token(just_expired, issuer=ISSUER, jwks_url=jwks.url, leeway=30).sub == "user-1"


def test_roles_reach_the_claims_and_malformed_roles_are_refused(jwks: Jwks) -> None:
    claims = verify_access_token(token(jwks.key, roles=["admin", "billing"]), issuer=ISSUER, jwks_url=jwks.url)
    assert claims.roles == ("admin", "billing")
    assert claims.has_role("billing") and claims.has_role("nope", "admin")
    assert not claims.has_role("support") and not claims.has_role()
    # A token from before roles existed: no roles, not an error.
    assert verify_access_token(token(jwks.key), issuer=ISSUER, jwks_url=jwks.url).roles == ()
    for malformed in ("admin", [1], {"admin": True}):
        with pytest.raises(AccessTokenError) as raised:
            verify_access_token(token(jwks.key, roles=malformed), issuer=ISSUER, jwks_url=jwks.url)
        assert raised.value.reason == "claims"
