"""Keyward's rich errors: the ``google.rpc.ErrorInfo`` reason and ``BadRequest`` field
violations that travel in the ``grpc-status-details-bin`` trailer."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

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
    (the server unreachable, a proxy in between)."""

    code: grpc.StatusCode
    message: str
    reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: list[FieldViolation] = field(default_factory=list)

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
