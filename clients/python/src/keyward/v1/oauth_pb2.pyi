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

class IdentityProviderKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IDENTITY_PROVIDER_KIND_UNSPECIFIED: _ClassVar[IdentityProviderKind]
    IDENTITY_PROVIDER_KIND_GITHUB: _ClassVar[IdentityProviderKind]
    IDENTITY_PROVIDER_KIND_OIDC: _ClassVar[IdentityProviderKind]

class IdentityProviderIntent(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IDENTITY_PROVIDER_INTENT_UNSPECIFIED: _ClassVar[IdentityProviderIntent]
    IDENTITY_PROVIDER_INTENT_SIGN_IN: _ClassVar[IdentityProviderIntent]
    IDENTITY_PROVIDER_INTENT_LINK: _ClassVar[IdentityProviderIntent]
IDENTITY_PROVIDER_KIND_UNSPECIFIED: IdentityProviderKind
IDENTITY_PROVIDER_KIND_GITHUB: IdentityProviderKind
IDENTITY_PROVIDER_KIND_OIDC: IdentityProviderKind
IDENTITY_PROVIDER_INTENT_UNSPECIFIED: IdentityProviderIntent
IDENTITY_PROVIDER_INTENT_SIGN_IN: IdentityProviderIntent
IDENTITY_PROVIDER_INTENT_LINK: IdentityProviderIntent

class OAuthProvider(_message.Message):
    __slots__ = ("id", "display_name", "kind")
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    kind: IdentityProviderKind
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., kind: _Optional[_Union[IdentityProviderKind, str]] = ...) -> None: ...

class LinkedAccount(_message.Message):
    __slots__ = ("id", "provider", "provider_account_id", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    provider: str
    provider_account_id: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., provider: _Optional[str] = ..., provider_account_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListProvidersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListProvidersResponse(_message.Message):
    __slots__ = ("providers",)
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    providers: _containers.RepeatedCompositeFieldContainer[OAuthProvider]
    def __init__(self, providers: _Optional[_Iterable[_Union[OAuthProvider, _Mapping]]] = ...) -> None: ...

class StartOAuthRequest(_message.Message):
    __slots__ = ("provider", "redirect_uri", "intent")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    provider: str
    redirect_uri: str
    intent: IdentityProviderIntent
    def __init__(self, provider: _Optional[str] = ..., redirect_uri: _Optional[str] = ..., intent: _Optional[_Union[IdentityProviderIntent, str]] = ...) -> None: ...

class StartOAuthResponse(_message.Message):
    __slots__ = ("authorization_url", "state", "expire_time")
    AUTHORIZATION_URL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    authorization_url: str
    state: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, authorization_url: _Optional[str] = ..., state: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OAuthCallbackRequest(_message.Message):
    __slots__ = ("state", "code", "error", "iss")
    STATE_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ISS_FIELD_NUMBER: _ClassVar[int]
    state: str
    code: str
    error: str
    iss: str
    def __init__(self, state: _Optional[str] = ..., code: _Optional[str] = ..., error: _Optional[str] = ..., iss: _Optional[str] = ...) -> None: ...

class OAuthCallbackResponse(_message.Message):
    __slots__ = ("signed_in", "account", "user_created")
    SIGNED_IN_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    USER_CREATED_FIELD_NUMBER: _ClassVar[int]
    signed_in: _resources_pb2.SignedIn
    account: LinkedAccount
    user_created: bool
    def __init__(self, signed_in: _Optional[_Union[_resources_pb2.SignedIn, _Mapping]] = ..., account: _Optional[_Union[LinkedAccount, _Mapping]] = ..., user_created: _Optional[bool] = ...) -> None: ...

class ListLinkedAccountsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListLinkedAccountsResponse(_message.Message):
    __slots__ = ("accounts", "next_page_token")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[LinkedAccount]
    next_page_token: str
    def __init__(self, accounts: _Optional[_Iterable[_Union[LinkedAccount, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UnlinkAccountRequest(_message.Message):
    __slots__ = ("account_id", "keep_other_sessions")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    KEEP_OTHER_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    keep_other_sessions: bool
    def __init__(self, account_id: _Optional[str] = ..., keep_other_sessions: _Optional[bool] = ...) -> None: ...

class UnlinkAccountResponse(_message.Message):
    __slots__ = ("revoked_sessions",)
    REVOKED_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    revoked_sessions: int
    def __init__(self, revoked_sessions: _Optional[int] = ...) -> None: ...
