"""The retry policy on the wire (``keyward_client.retries``): a stand-in AuthService on grpc's
own in-process server answers UNAVAILABLE to the first call of an RPC — what a load balancer
answers for a call whose replica died under it. A stand-in, because a real Keyward cannot be
made to fail exactly once on cue; ``scripts/cluster test`` kills real replicas behind HAProxy."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from keyward.v1 import auth_pb2, auth_pb2_grpc
from keyward_client import AsyncKeywardClient, KeywardClient, KeywardError
from keyward_client.retries import RETRIED_METHODS


class FlakyAuth(auth_pb2_grpc.AuthServiceServicer):  # type: ignore[misc]
    """Counts calls; GetSession fails the first time, Register every time."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def GetSession(self, request: auth_pb2.GetSessionRequest, context: grpc.ServicerContext) -> auth_pb2.GetSessionResponse:
        self.calls["GetSession"] += 1
        if self.calls["GetSession"] == 1:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the replica went away")
        return auth_pb2.GetSessionResponse()

    def Register(self, request: auth_pb2.RegisterRequest, context: grpc.ServicerContext) -> auth_pb2.RegisterResponse:
        self.calls["Register"] += 1
        context.abort(grpc.StatusCode.UNAVAILABLE, "the replica went away after it committed")


@pytest.fixture
def flaky() -> Iterator[tuple[FlakyAuth, str]]:
    service = FlakyAuth()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    auth_pb2_grpc.add_AuthServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield service, f"127.0.0.1:{port}"
    server.stop(grace=None)


def test_an_idempotent_call_is_retried_on_unavailable(flaky: tuple[FlakyAuth, str]) -> None:
    service, address = flaky
    with KeywardClient(address, token="t") as keyward:
        keyward.get_session()
    assert service.calls["GetSession"] == 2


def test_register_is_not_retried(flaky: tuple[FlakyAuth, str]) -> None:
    # A repeat after a lost success would answer EMAIL_TAKEN to the account's own creator.
    service, address = flaky
    with KeywardClient(address) as keyward, pytest.raises(KeywardError) as failure:
        keyward.register("ada@example.com", "violet-otter-lamp-93")
    assert failure.value.code == grpc.StatusCode.UNAVAILABLE
    assert service.calls["Register"] == 1
    assert "Register" not in RETRIED_METHODS["keyward.v1.AuthService"]


def test_retries_can_be_turned_off(flaky: tuple[FlakyAuth, str]) -> None:
    service, address = flaky
    with KeywardClient(address, token="t", retry_unavailable=False) as keyward, pytest.raises(KeywardError):
        keyward.get_session()
    assert service.calls["GetSession"] == 1


@pytest.mark.asyncio
async def test_the_async_client_retries_too(flaky: tuple[FlakyAuth, str]) -> None:
    service, address = flaky
    async with AsyncKeywardClient(address, token="t") as keyward:
        await keyward.get_session()
    assert service.calls["GetSession"] == 2
