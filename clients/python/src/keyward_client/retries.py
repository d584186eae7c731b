"""Which RPCs the clients repeat when the answer is ``UNAVAILABLE``, as gRPC's service-config
retry policy (grpc-core does the retrying). ``UNAVAILABLE`` is what a load balancer answers when
the replica behind it died mid-call, and what Keyward answers (with RetryInfo) while its database
is away. Only RPCs whose repetition is harmless are listed — decided per RPC in
docs/scaling.md ("Which RPCs a client may retry"); the TypeScript client keeps the same list.
Register, the Finish* steps, Logout/Revoke*, and everything that mails or spends a single-use
token are not: a repeat after a lost success would answer EMAIL_TAKEN, CHALLENGE_EXPIRED or
UNAUTHENTICATED to the caller whose call in fact succeeded."""

from __future__ import annotations

import json

RETRIED_METHODS: dict[str, tuple[str, ...]] = {
    # Reads, and sign-ins whose lost answer leaves only an unused session or ceremony behind.
    "keyward.v1.AuthService": ("GetSession", "ListSessions", "Login", "RefreshSession"),
    "keyward.v1.PasskeyService": (
        "StartPasskeyLogin",
        "StartPasskeyRegistration",
        "StartPasskeyReauthentication",
        "ListPasskeys",
    ),
    "keyward.v1.OAuthService": ("ListProviders", "StartOAuth", "ListLinkedAccounts"),
}

RETRY_POLICY = {
    "maxAttempts": 5,
    "initialBackoff": "0.05s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}


def service_config() -> str:
    """The gRPC service config (JSON) that retries ``RETRIED_METHODS`` on UNAVAILABLE."""
    names = [
        {"service": service, "method": method} for service, methods in RETRIED_METHODS.items() for method in methods
    ]
    return json.dumps({"methodConfig": [{"name": names, "retryPolicy": RETRY_POLICY}]})


def channel_options(retry_unavailable: bool) -> list[tuple[str, str | int]]:
    """Channel options for ``grpc.insecure_channel`` / ``secure_channel`` (and their aio twins)."""
    if not retry_unavailable:
        return [("grpc.enable_retries", 0)]
    return [("grpc.enable_retries", 1), ("grpc.service_config", service_config())]
