"""``AsyncKeywardClient`` on ``grpc.aio`` against the real server: the same flows and errors as
the blocking client, and concurrent calls on one channel."""

import asyncio

import grpc
import pytest

from conftest import Server
from keyward_client import AsyncKeywardClient, ErrorReason, KeywardError

PASSWORD = "violet-otter-lamp-93"


@pytest.mark.asyncio
async def test_register_login_get_session_and_logout(keyward_server: Server, email: str) -> None:
    async with AsyncKeywardClient(keyward_server.address) as keyward:
        registered = await keyward.register(email, PASSWORD, name="Ada")
        signed_in = await keyward.login(email, PASSWORD)
        assert signed_in.user.id == registered.user.id
        assert keyward.token == signed_in.session_token

        # Many calls in flight on one channel, as an asyncio service makes them.
        sessions = await asyncio.gather(*(keyward.get_session() for _ in range(20)))
        assert {s.session.id for s in sessions} == {signed_in.session.id}
        assert sessions[0].user.email == email

        refreshed = await keyward.refresh_session()
        assert refreshed.access_token.token
        by_access_token = await keyward.get_session(token=refreshed.access_token.token)
        assert by_access_token.session.id == signed_in.session.id

        await keyward.logout()
        assert keyward.token is None
        with pytest.raises(KeywardError) as ended:
            await keyward.get_session(token=signed_in.session_token)
        assert ended.value.error_reason == ErrorReason.SESSION_INVALID


@pytest.mark.asyncio
async def test_errors_carry_reason_and_field_violations(keyward_server: Server, email: str) -> None:
    async with AsyncKeywardClient(keyward_server.address) as keyward:
        with pytest.raises(KeywardError) as common:
            await keyward.register(email, "password12345678")
        assert common.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert common.value.has_reason(ErrorReason.PASSWORD_TOO_COMMON)
        assert [v.field for v in common.value.field_violations] == ["password"]

        await keyward.register(email, PASSWORD)
        with pytest.raises(KeywardError) as wrong:
            await keyward.login(email, "not-the-password-42")
        assert (wrong.value.code, wrong.value.reason) == (grpc.StatusCode.UNAUTHENTICATED, "INVALID_CREDENTIALS")


@pytest.mark.asyncio
async def test_an_unreachable_server_is_a_keyward_error_without_a_reason() -> None:
    async with AsyncKeywardClient("127.0.0.1:9", timeout=5) as keyward:
        with pytest.raises(KeywardError) as raised:
            await keyward.get_session(token="x")
    assert raised.value.code == grpc.StatusCode.UNAVAILABLE
    assert raised.value.reason is None
