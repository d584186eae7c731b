import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keyward.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PasskeyDeviceType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PASSKEY_DEVICE_TYPE_UNSPECIFIED: _ClassVar[PasskeyDeviceType]
    PASSKEY_DEVICE_TYPE_SINGLE_DEVICE: _ClassVar[PasskeyDeviceType]
    PASSKEY_DEVICE_TYPE_MULTI_DEVICE: _ClassVar[PasskeyDeviceType]
PASSKEY_DEVICE_TYPE_UNSPECIFIED: PasskeyDeviceType
PASSKEY_DEVICE_TYPE_SINGLE_DEVICE: PasskeyDeviceType
PASSKEY_DEVICE_TYPE_MULTI_DEVICE: PasskeyDeviceType

class Passkey(_message.Message):
    __slots__ = ("id", "name", "credential_id", "create_time", "last_used_time", "backup_eligible", "backed_up", "device_type", "transports", "aaguid", "provider_name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_TIME_FIELD_NUMBER: _ClassVar[int]
    BACKUP_ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    BACKED_UP_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TYPE_FIELD_NUMBER: _ClassVar[int]
    TRANSPORTS_FIELD_NUMBER: _ClassVar[int]
    AAGUID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    credential_id: str
    create_time: _timestamp_pb2.Timestamp
    last_used_time: _timestamp_pb2.Timestamp
    backup_eligible: bool
    backed_up: bool
    device_type: PasskeyDeviceType
    transports: _containers.RepeatedScalarFieldContainer[str]
    aaguid: str
    provider_name: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., credential_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., backup_eligible: _Optional[bool] = ..., backed_up: _Optional[bool] = ..., device_type: _Optional[_Union[PasskeyDeviceType, str]] = ..., transports: _Optional[_Iterable[str]] = ..., aaguid: _Optional[str] = ..., provider_name: _Optional[str] = ...) -> None: ...

class StartPasskeyRegistrationRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StartPasskeyRegistrationResponse(_message.Message):
    __slots__ = ("ceremony_id", "options_json")
    CEREMONY_ID_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_JSON_FIELD_NUMBER: _ClassVar[int]
    ceremony_id: str
    options_json: str
    def __init__(self, ceremony_id: _Optional[str] = ..., options_json: _Optional[str] = ...) -> None: ...

class FinishPasskeyRegistrationRequest(_message.Message):
    __slots__ = ("ceremony_id", "credential_json", "name", "revoke_other_sessions")
    CEREMONY_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_JSON_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REVOKE_OTHER_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    ceremony_id: str
    credential_json: str
    name: str
    revoke_other_sessions: bool
    def __init__(self, ceremony_id: _Optional[str] = ..., credential_json: _Optional[str] = ..., name: _Optional[str] = ..., revoke_other_sessions: _Optional[bool] = ...) -> None: ...

class FinishPasskeyRegistrationResponse(_message.Message):
    __slots__ = ("passkey", "revoked_sessions")
    PASSKEY_FIELD_NUMBER: _ClassVar[int]
    REVOKED_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    passkey: Passkey
    revoked_sessions: int
    def __init__(self, passkey: _Optional[_Union[Passkey, _Mapping]] = ..., revoked_sessions: _Optional[int] = ...) -> None: ...

class StartPasskeySignUpRequest(_message.Message):
    __slots__ = ("email", "name")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    email: str
    name: str
    def __init__(self, email: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class StartPasskeySignUpResponse(_message.Message):
    __slots__ = ("ceremony_id", "options_json")
    CEREMONY_ID_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_JSON_FIELD_NUMBER: _ClassVar[int]
    ceremony_id: str
    options_json: str
    def __init__(self, ceremony_id: _Optional[str] = ..., options_json: _Optional[str] = ...) -> None: ...

class FinishPasskeySignUpRequest(_message.Message):
    __slots__ = ("ceremony_id", "credential_json", "passkey_name", "code")
    CEREMONY_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_JSON_FIELD_NUMBER: _ClassVar[int]
    PASSKEY_NAME_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ceremony_id: str
    credential_json: str
    passkey_name: str
    code: str
    def __init__(self, ceremony_id: _Optional[str] = ..., credential_json: _Optional[str] = ..., passkey_name: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class FinishPasskeySignUpResponse(_message.Message):
    __slots__ = ("signed_in", "passkey")
    SIGNED_IN_FIELD_NUMBER: _ClassVar[int]
    PASSKEY_FIELD_NUMBER: _ClassVar[int]
    signed_in: _resources_pb2.SignedIn
    passkey: Passkey
    def __init__(self, signed_in: _Optional[_Union[_resources_pb2.SignedIn, _Mapping]] = ..., passkey: _Optional[_Union[Passkey, _Mapping]] = ...) -> None: ...

class StartPasskeyLoginRequest(_message.Message):
    __slots__ = ("email",)
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    email: str
    def __init__(self, email: _Optional[str] = ...) -> None: ...

class StartPasskeyLoginResponse(_message.Message):
    __slots__ = ("ceremony_id", "options_json")
    CEREMONY_ID_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_JSON_FIELD_NUMBER: _ClassVar[int]
    ceremony_id: str
    options_json: str
    def __init__(self, ceremony_id: _Optional[str] = ..., options_json: _Optional[str] = ...) -> None: ...

class FinishPasskeyLoginRequest(_message.Message):
    __slots__ = ("ceremony_id", "credential_json")
    CEREMONY_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_JSON_FIELD_NUMBER: _ClassVar[int]
    ceremony_id: str
    credential_json: str
    def __init__(self, ceremony_id: _Optional[str] = ..., credential_json: _Optional[str] = ...) -> None: ...

class FinishPasskeyLoginResponse(_message.Message):
    __slots__ = ("signed_in",)
    SIGNED_IN_FIELD_NUMBER: _ClassVar[int]
    signed_in: _resources_pb2.SignedIn
    def __init__(self, signed_in: _Optional[_Union[_resources_pb2.SignedIn, _Mapping]] = ...) -> None: ...

class ListPasskeysRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPasskeysResponse(_message.Message):
    __slots__ = ("passkeys", "next_page_token")
    PASSKEYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    passkeys: _containers.RepeatedCompositeFieldContainer[Passkey]
    next_page_token: str
    def __init__(self, passkeys: _Optional[_Iterable[_Union[Passkey, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RenamePasskeyRequest(_message.Message):
    __slots__ = ("passkey_id", "name")
    PASSKEY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    passkey_id: str
    name: str
    def __init__(self, passkey_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RenamePasskeyResponse(_message.Message):
    __slots__ = ("passkey",)
    PASSKEY_FIELD_NUMBER: _ClassVar[int]
    passkey: Passkey
    def __init__(self, passkey: _Optional[_Union[Passkey, _Mapping]] = ...) -> None: ...

class DeletePasskeyRequest(_message.Message):
    __slots__ = ("passkey_id", "keep_other_sessions")
    PASSKEY_ID_FIELD_NUMBER: _ClassVar[int]
    KEEP_OTHER_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    passkey_id: str
    keep_other_sessions: bool
    def __init__(self, passkey_id: _Optional[str] = ..., keep_other_sessions: _Optional[bool] = ...) -> None: ...

class DeletePasskeyResponse(_message.Message):
    __slots__ = ("revoked_sessions",)
    REVOKED_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    revoked_sessions: int
    def __init__(self, revoked_sessions: _Optional[int] = ...) -> None: ...

class StartPasskeyReauthenticationRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StartPasskeyReauthenticationResponse(_message.Message):
    __slots__ = ("ceremony_id", "options_json")
    CEREMONY_ID_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_JSON_FIELD_NUMBER: _ClassVar[int]
    ceremony_id: str
    options_json: str
    def __init__(self, ceremony_id: _Optional[str] = ..., options_json: _Optional[str] = ...) -> None: ...

class FinishPasskeyReauthenticationRequest(_message.Message):
    __slots__ = ("ceremony_id", "credential_json")
    CEREMONY_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_JSON_FIELD_NUMBER: _ClassVar[int]
    ceremony_id: str
    credential_json: str
    def __init__(self, ceremony_id: _Optional[str] = ..., credential_json: _Optional[str] = ...) -> None: ...

class FinishPasskeyReauthenticationResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _resources_pb2.Session
    def __init__(self, session: _Optional[_Union[_resources_pb2.Session, _Mapping]] = ...) -> None: ...
