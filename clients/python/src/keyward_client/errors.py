"""Keyward's rich errors: the ``google.rpc.ErrorInfo`` reason and ``BadRequest`` field
violations that travel in the ``grpc-status-details-bin`` trailer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import grpc
import grpc.aio
import google.rpc.error_details_pb2 as error_details_pb2
import google.rpc.status_pb2 as status_pb2

from keyward.v1 import error_reason_pb2
from keyward.v1.error_reason_pb2 import ErrorReason

__all__ = ["ERROR_DOMAIN", "ErrorReason", "FieldViolation", "KeywardError"]

#: ``google.rpc.ErrorInfo.domain`` of every error Keyward sends.
ERROR_DOMAIN = "keyward"
_STATUS_DETAILS_KEY = "grpc-status-details-bin"


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
        return cast(ErrorReason, ErrorReason.Value(self.reason))

    def has_reason(self, *reasons: ErrorReason) -> bool:
        """Whether ``reason`` is one of ``reasons`` (``ErrorReason`` values)."""
        known = self.error_reason
        return known != error_reason_pb2.ERROR_REASON_UNSPECIFIED and known in reasons

    def __str__(self) -> str:
        reason = f" {self.reason}" if self.reason else ""
        return f"{self.code.name}{reason}: {self.message}"

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> KeywardError:
        """Decodes a failed call, from the blocking API (a ``grpc.Call``) or ``grpc.aio``."""
        if isinstance(error, (grpc.Call, grpc.aio.AioRpcError)):
            result = cls(code=error.code(), message=error.details() or "")
            trailers = error.trailing_metadata() or ()
        else:
            return cls(code=grpc.StatusCode.UNKNOWN, message=str(error))
        for key, value in trailers:
            if key == _STATUS_DETAILS_KEY and isinstance(value, bytes):
                result._read_details(status_pb2.Status.FromString(value))
        return result

    def _read_details(self, status: status_pb2.Status) -> None:
        self.message = status.message or self.message
        for detail in status.details:
            # Unpack is false (and leaves the message empty) for a detail of another type.
            info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
            if detail.Unpack(info):
                if info.domain == ERROR_DOMAIN:
                    self.reason = info.reason
                    self.metadata = dict(info.metadata)
            elif detail.Unpack(bad):
                self.field_violations.extend(FieldViolation(v.field, v.description) for v in bad.field_violations)
