from keyward.v1 import resources_pb2 as _resources_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RequestPasswordResetRequest(_message.Message):
    __slots__ = ("email", "redirect_uri")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    email: str
    redirect_uri: str
    def __init__(self, email: _Optional[str] = ..., redirect_uri: _Optional[str] = ...) -> None: ...

class RequestPasswordResetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResetPasswordRequest(_message.Message):
    __slots__ = ("token", "new_password", "email", "code", "remove_other_factors")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    NEW_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REMOVE_OTHER_FACTORS_FIELD_NUMBER: _ClassVar[int]
    token: str
    new_password: str
    email: str
    code: str
    remove_other_factors: bool
    def __init__(self, token: _Optional[str] = ..., new_password: _Optional[str] = ..., email: _Optional[str] = ..., code: _Optional[str] = ..., remove_other_factors: _Optional[bool] = ...) -> None: ...

class ResetPasswordResponse(_message.Message):
    __slots__ = ("revoked_sessions",)
    REVOKED_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    revoked_sessions: int
    def __init__(self, revoked_sessions: _Optional[int] = ...) -> None: ...

class SendVerificationEmailRequest(_message.Message):
    __slots__ = ("redirect_uri",)
    REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    redirect_uri: str
    def __init__(self, redirect_uri: _Optional[str] = ...) -> None: ...

class SendVerificationEmailResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyEmailRequest(_message.Message):
    __slots__ = ("token", "email", "code")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    token: str
    email: str
    code: str
    def __init__(self, token: _Optional[str] = ..., email: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class VerifyEmailResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: _resources_pb2.User
    def __init__(self, user: _Optional[_Union[_resources_pb2.User, _Mapping]] = ...) -> None: ...

class SendMagicLinkRequest(_message.Message):
    __slots__ = ("email", "redirect_uri")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    email: str
    redirect_uri: str
    def __init__(self, email: _Optional[str] = ..., redirect_uri: _Optional[str] = ...) -> None: ...

class SendMagicLinkResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SignInWithMagicLinkRequest(_message.Message):
    __slots__ = ("token", "email", "code")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    token: str
    email: str
    code: str
    def __init__(self, token: _Optional[str] = ..., email: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class SignInWithMagicLinkResponse(_message.Message):
    __slots__ = ("signed_in",)
    SIGNED_IN_FIELD_NUMBER: _ClassVar[int]
    signed_in: _resources_pb2.SignedIn
    def __init__(self, signed_in: _Optional[_Union[_resources_pb2.SignedIn, _Mapping]] = ...) -> None: ...

class RequestEmailChangeRequest(_message.Message):
    __slots__ = ("new_email", "redirect_uri")
    NEW_EMAIL_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    new_email: str
    redirect_uri: str
    def __init__(self, new_email: _Optional[str] = ..., redirect_uri: _Optional[str] = ...) -> None: ...

class RequestEmailChangeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConfirmEmailChangeRequest(_message.Message):
    __slots__ = ("token", "email", "code")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    token: str
    email: str
    code: str
    def __init__(self, token: _Optional[str] = ..., email: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class ConfirmEmailChangeResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: _resources_pb2.User
    def __init__(self, user: _Optional[_Union[_resources_pb2.User, _Mapping]] = ...) -> None: ...
