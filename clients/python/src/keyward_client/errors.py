"""Keyward's rich errors: the ``google.rpc.ErrorInfo`` reason and ``BadRequest`` field
violations that travel in the ``grpc-status-details-bin`` trailer."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from keyward.v1 import error_reason_pb2
from keyward.v1.error_reason_pb2 import ErrorReason

#: ``google.rpc.ErrorInfo.domain`` of every error Keyward sends.
ERROR_DOMAIN = "keyward"


@dataclass(frozen=True)
class FieldViolation:
    """One refused request field (proto field name) and a description safe to show users."""

    field: str
    description: str


@dataclass
class KeywardError(Exception):
    """A failed call. Switch on ``reason`` (``INVALID_CREDENTIALS``, ``EMAIL_TAKEN``, …), not on
    the message. ``reason`` is ``None`` only when the failure did not come from Keyward itself
    (the server unreachable, a proxy in between). ``error_reason`` is the same as the published
    ``ErrorReason`` enum (proto/keyward/v1/error_reason.proto), ``ERROR_REASON_UNSPECIFIED`` for a
    reason this client does not know yet (a newer server): then go by ``code``."""

    code: grpc.StatusCode
    message: str
    reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: list[FieldViolation] = field(default_factory=list)

    @property
    def error_reason(self) -> ErrorReason:
        """``reason`` as the published enum value; ``ERROR_REASON_UNSPECIFIED`` when unknown."""
        if self.reason is None or self.reason not in ErrorReason.keys():
            return error_reason_pb2.ERROR_REASON_UNSPECIFIED
        return ErrorReason.Value(self.reason)

    def has_reason(self, *reasons: ErrorReason) -> bool:
        """Whether ``reason`` is one of ``reasons`` (``ErrorReason`` values)."""
        known = self.error_reason
        return known != error_reason_pb2.ERROR_REASON_UNSPECIFIED and known in reasons

    def __str__(self) -> str:
        reason = f" {self.reason}" if self.reason else ""
        return f"{self.code.name}{reason}: {self.message}"

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> KeywardError:
        """Decodes the status details of a failed call (a ``grpc.Call``)."""
        code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
        message = (error.details() if isinstance(error, grpc.Call) else None) or ""
        result = cls(code=code, message=message)
        status = rpc_status.from_call(error) if isinstance(error, grpc.Call) else None
        if status is None:
            return result
        result.message = status.message or message
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                if info.domain == ERROR_DOMAIN:
                    result.reason = info.reason
                    result.metadata = dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                result.field_violations.extend(
                    FieldViolation(v.field, v.description) for v in bad.field_violations
                )
        return result
