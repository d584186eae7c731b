"""``AsyncKeywardClient``: ``KeywardClient`` on ``grpc.aio``, for asyncio services (FastAPI,
aiohttp, …). Same methods, awaited; the same ``KeywardError``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
import grpc.aio

from keyward.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    oauth_pb2_grpc,
    passkey_pb2_grpc,
    resources_pb2,
    verification_pb2_grpc,
)
from keyward_client.client import bearer_metadata
from keyward_client.errors import KeywardError
from keyward_client.retries import channel_options

Response = TypeVar("Response")


class AsyncKeywardClient:
    """An asyncio connection to Keyward.

    ``target`` is ``host:port``; plaintext unless ``credentials`` (e.g.
    ``grpc.ssl_channel_credentials()``) are given. Create it inside the running event loop and
    close it there (``async with``). After ``register``/``login`` it remembers the session token
    and sends it as ``authorization: Bearer …``; ``token`` sets one up front. ``auth``,
    ``passkeys``, ``oauth`` and ``verification`` are the generated ``grpc.aio`` stubs: call them through ``call`` to
    get the bearer metadata and ``KeywardError``.
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
            grpc.aio.secure_channel(target, credentials, options=options)
            if credentials
            else grpc.aio.insecure_channel(target, options=options)
        )
        self.auth = auth_pb2_grpc.AuthServiceStub(self.channel)
        self.passkeys = passkey_pb2_grpc.PasskeyServiceStub(self.channel)
        self.oauth = oauth_pb2_grpc.OAuthServiceStub(self.channel)
        self.verification = verification_pb2_grpc.VerificationServiceStub(self.channel)

    async def __aenter__(self) -> AsyncKeywardClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close()

    async def call(
        self, method: Callable[..., Awaitable[Response]], request: Any, *, token: str | None = None
    ) -> Response:
        """Awaits a generated stub method with the bearer token; failures raise KeywardError."""
        try:
            return await method(request, metadata=bearer_metadata(token or self.token), timeout=self.timeout)
        except grpc.aio.AioRpcError as error:
            raise KeywardError.from_rpc_error(error) from None

    async def register(self, email: str, password: str, name: str = "") -> resources_pb2.SignedIn:
        """Creates a user with a password, signs in and remembers the session token."""
        request = auth_pb2.RegisterRequest(email=email, password=password, name=name)
        response: auth_pb2.RegisterResponse = await self.call(self.auth.Register, request)
        self.token = response.signed_in.session_token
        return response.signed_in

    async def login(self, email: str, password: str) -> resources_pb2.SignedIn:
        """Signs in with a password and remembers the session token."""
        request = auth_pb2.LoginRequest(email=email, password=password)
        response: auth_pb2.LoginResponse = await self.call(self.auth.Login, request)
        self.token = response.signed_in.session_token
        return response.signed_in

    async def get_session(self, token: str | None = None) -> auth_pb2.GetSessionResponse:
        """Who is behind ``token`` (default: this client's session)? The authoritative check."""
        request = auth_pb2.GetSessionRequest(token=token) if token else auth_pb2.GetSessionRequest()
        response: auth_pb2.GetSessionResponse = await self.call(self.auth.GetSession, request)
        return response

    async def refresh_session(self) -> auth_pb2.RefreshSessionResponse:
        """A fresh access token for this client's session (needs the session token)."""
        response: auth_pb2.RefreshSessionResponse = await self.call(
            self.auth.RefreshSession, auth_pb2.RefreshSessionRequest()
        )
        return response

    async def logout(self) -> None:
        """Ends this client's session and forgets the token."""
        await self.call(self.auth.Logout, auth_pb2.LogoutRequest())
        self.token = None
