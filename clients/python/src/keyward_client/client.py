"""``KeywardClient``: one channel, the session token as bearer metadata, typed errors. The
``grpc.aio`` twin is ``AsyncKeywardClient`` (async_client.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from keyward.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    oauth_pb2_grpc,
    passkey_pb2_grpc,
    resources_pb2,
    verification_pb2_grpc,
)
from keyward_client.errors import KeywardError
from keyward_client.retries import channel_options

Response = TypeVar("Response")


def bearer_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """``authorization: Bearer <token>`` call metadata, or none."""
    return (("authorization", f"Bearer {token}"),) if token else ()


class KeywardClient:
    """A connection to Keyward.

    ``target`` is ``host:port``. Plaintext by default (a local or sidecar Keyward); pass
    ``credentials=grpc.ssl_channel_credentials()`` for TLS. After ``register``/``login`` the
    client remembers the session token and sends it as ``authorization: Bearer …`` on
    user-scoped calls; ``token`` sets one up front (a session token or an access token).
    Calls whose repetition is harmless are retried on UNAVAILABLE (a replica that died behind
    the load balancer, a database failover): ``retries.RETRIED_METHODS``; ``retry_unavailable=False``
    turns that off.
    ``auth``, ``passkeys``, ``oauth`` and ``verification`` are the generated stubs for anything the wrapper does not cover;
    call them through ``call`` to get the bearer metadata and ``KeywardError``.
    """

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        timeout: float = 30.0,
        retry_unavailable: bool = True,
    ) -> None:
        self.token = token
        self.timeout = timeout
        options = channel_options(retry_unavailable)
        self.channel = (
            grpc.secure_channel(target, credentials, options=options)
            if credentials
            else grpc.insecure_channel(target, options=options)
        )
        self.auth = auth_pb2_grpc.AuthServiceStub(self.channel)
        self.passkeys = passkey_pb2_grpc.PasskeyServiceStub(self.channel)
        self.oauth = oauth_pb2_grpc.OAuthServiceStub(self.channel)
        self.verification = verification_pb2_grpc.VerificationServiceStub(self.channel)

    def __enter__(self) -> KeywardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def call(self, method: Callable[..., Response], request: Any, *, token: str | None = None) -> Response:
        """Calls a generated stub method with the bearer token; failures raise KeywardError."""
        metadata = bearer_metadata(token or self.token)
        try:
            return method(request, metadata=metadata, timeout=self.timeout)
        except grpc.RpcError as error:
            raise KeywardError.from_rpc_error(error) from None

    def register(self, email: str, password: str, name: str = "") -> resources_pb2.SignedIn:
        """Creates a user with a password, signs in and remembers the session token."""
        request = auth_pb2.RegisterRequest(email=email, password=password, name=name)
        response: auth_pb2.RegisterResponse = self.call(self.auth.Register, request)
        self.token = response.signed_in.session_token
        return response.signed_in

    def login(self, email: str, password: str) -> resources_pb2.SignedIn:
        """Signs in with a password and remembers the session token."""
        response: auth_pb2.LoginResponse = self.call(self.auth.Login, auth_pb2.LoginRequest(email=email, password=password))
        self.token = response.signed_in.session_token
        return response.signed_in

    def get_session(self, token: str | None = None) -> auth_pb2.GetSessionResponse:
        """Who is behind ``token`` (default: this client's session)? The authoritative check."""
        request = auth_pb2.GetSessionRequest(token=token) if token else auth_pb2.GetSessionRequest()
        response: auth_pb2.GetSessionResponse = self.call(self.auth.GetSession, request)
        return response

    def refresh_session(self) -> auth_pb2.RefreshSessionResponse:
        """A fresh access token for this client's session (needs the session token)."""
        response: auth_pb2.RefreshSessionResponse = self.call(self.auth.RefreshSession, auth_pb2.RefreshSessionRequest())
        return response

    def logout(self) -> None:
        """Ends this client's session and forgets the token."""
        self.call(self.auth.Logout, auth_pb2.LogoutRequest())
        self.token = None
