"""Python client for Keyward: the generated gRPC stubs plus a small wrapper.

    from keyward_client import KeywardClient, KeywardError

    with KeywardClient("127.0.0.1:50051") as keyward:
        keyward.login("ada@example.com", "violet-otter-lamp-93")
        print(keyward.get_session().user.email)

``AsyncKeywardClient`` is the same on ``grpc.aio``; ``verify_access_token`` checks an access
token locally against Keyward's published keys. The generated modules live in ``keyward.v1``
(``auth_pb2``, ``passkey_pb2``, ``resources_pb2``, ``error_reason_pb2`` and the ``*_pb2_grpc``
service stubs), with type stubs.
"""

from keyward_client.access_tokens import AccessTokenClaims, AccessTokenError, verify_access_token
from keyward_client.async_client import AsyncKeywardClient
from keyward_client.client import KeywardClient
from keyward_client.errors import ERROR_DOMAIN, ErrorReason, FieldViolation, KeywardError

__all__ = [
    "ERROR_DOMAIN",
    "AccessTokenClaims",
    "AccessTokenError",
    "AsyncKeywardClient",
    "ErrorReason",
    "FieldViolation",
    "KeywardClient",
    "KeywardError",
    "verify_access_token",
]
