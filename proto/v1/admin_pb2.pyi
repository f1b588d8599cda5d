from kiln.proto.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ServerInfoReply(_message.Message):
    __slots__ = ("version", "ca_fingerprint", "agent_port", "mlflow_port")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CA_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    AGENT_PORT_FIELD_NUMBER: _ClassVar[int]
    MLFLOW_PORT_FIELD_NUMBER: _ClassVar[int]
    version: str
    ca_fingerprint: str
    agent_port: int
    mlflow_port: int
    def __init__(self, version: _Optional[str] = ..., ca_fingerprint: _Optional[str] = ..., agent_port: _Optional[int] = ..., mlflow_port: _Optional[int] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("user", "password", "token_name")
    USER_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    TOKEN_NAME_FIELD_NUMBER: _ClassVar[int]
    user: str
    password: str
    token_name: str
    def __init__(self, user: _Optional[str] = ..., password: _Optional[str] = ..., token_name: _Optional[str] = ...) -> None: ...

class LoginReply(_message.Message):
    __slots__ = ("token", "user", "expires_at")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    token: str
    user: User
    expires_at: float
    def __init__(self, token: _Optional[str] = ..., user: _Optional[_Union[User, _Mapping]] = ..., expires_at: _Optional[float] = ...) -> None: ...

class WhoAmIReply(_message.Message):
    __slots__ = ("user", "token")
    USER_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    user: User
    token: Token
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ..., token: _Optional[_Union[Token, _Mapping]] = ...) -> None: ...

class User(_message.Message):
    __slots__ = ("name", "is_admin", "disabled", "created_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IS_ADMIN_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    is_admin: bool
    disabled: bool
    created_at: float
    def __init__(self, name: _Optional[str] = ..., is_admin: _Optional[bool] = ..., disabled: _Optional[bool] = ..., created_at: _Optional[float] = ...) -> None: ...

class UserList(_message.Message):
    __slots__ = ("users", "next_page_token")
    USERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[User]
    next_page_token: str
    def __init__(self, users: _Optional[_Iterable[_Union[User, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListUsersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class CreateUserRequest(_message.Message):
    __slots__ = ("name", "password", "is_admin")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    IS_ADMIN_FIELD_NUMBER: _ClassVar[int]
    name: str
    password: str
    is_admin: bool
    def __init__(self, name: _Optional[str] = ..., password: _Optional[str] = ..., is_admin: _Optional[bool] = ...) -> None: ...

class SetPasswordRequest(_message.Message):
    __slots__ = ("user", "old_password", "new_password")
    USER_FIELD_NUMBER: _ClassVar[int]
    OLD_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    NEW_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    user: str
    old_password: str
    new_password: str
    def __init__(self, user: _Optional[str] = ..., old_password: _Optional[str] = ..., new_password: _Optional[str] = ...) -> None: ...

class SetUserDisabledRequest(_message.Message):
    __slots__ = ("user", "disabled")
    USER_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    user: str
    disabled: bool
    def __init__(self, user: _Optional[str] = ..., disabled: _Optional[bool] = ...) -> None: ...

class Token(_message.Message):
    __slots__ = ("id", "user", "name", "created_at", "expires_at", "revoked_at", "last_used_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    user: str
    name: str
    created_at: float
    expires_at: float
    revoked_at: float
    last_used_at: float
    def __init__(self, id: _Optional[str] = ..., user: _Optional[str] = ..., name: _Optional[str] = ..., created_at: _Optional[float] = ..., expires_at: _Optional[float] = ..., revoked_at: _Optional[float] = ..., last_used_at: _Optional[float] = ...) -> None: ...

class TokenList(_message.Message):
    __slots__ = ("tokens", "next_page_token")
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[Token]
    next_page_token: str
    def __init__(self, tokens: _Optional[_Iterable[_Union[Token, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("name", "ttl_seconds", "user")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    name: str
    ttl_seconds: float
    user: str
    def __init__(self, name: _Optional[str] = ..., ttl_seconds: _Optional[float] = ..., user: _Optional[str] = ...) -> None: ...

class CreatedToken(_message.Message):
    __slots__ = ("token", "secret")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    token: Token
    secret: str
    def __init__(self, token: _Optional[_Union[Token, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ("user", "page_size", "page_token")
    USER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user: str
    page_size: int
    page_token: str
    def __init__(self, user: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class AuditRecord(_message.Message):
    __slots__ = ("seq", "time", "actor", "action", "target", "details_json", "prev_hash", "hash", "signature", "signed_by")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    DETAILS_JSON_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGNED_BY_FIELD_NUMBER: _ClassVar[int]
    seq: int
    time: float
    actor: str
    action: str
    target: str
    details_json: str
    prev_hash: str
    hash: str
    signature: str
    signed_by: str
    def __init__(self, seq: _Optional[int] = ..., time: _Optional[float] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., target: _Optional[str] = ..., details_json: _Optional[str] = ..., prev_hash: _Optional[str] = ..., hash: _Optional[str] = ..., signature: _Optional[str] = ..., signed_by: _Optional[str] = ...) -> None: ...

class ListAuditRequest(_message.Message):
    __slots__ = ("after_seq", "limit", "actor", "action_prefix", "page_size", "page_token")
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_PREFIX_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    limit: int
    actor: str
    action_prefix: str
    page_size: int
    page_token: str
    def __init__(self, after_seq: _Optional[int] = ..., limit: _Optional[int] = ..., actor: _Optional[str] = ..., action_prefix: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class AuditList(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[AuditRecord]
    next_page_token: str
    def __init__(self, records: _Optional[_Iterable[_Union[AuditRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AuditVerdict(_message.Message):
    __slots__ = ("ok", "records", "first_broken_seq", "reason", "findings", "signed_seq", "key")
    OK_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    FIRST_BROKEN_SEQ_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    SIGNED_SEQ_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    records: int
    first_broken_seq: int
    reason: str
    findings: _containers.RepeatedCompositeFieldContainer[AuditFinding]
    signed_seq: int
    key: str
    def __init__(self, ok: _Optional[bool] = ..., records: _Optional[int] = ..., first_broken_seq: _Optional[int] = ..., reason: _Optional[str] = ..., findings: _Optional[_Iterable[_Union[AuditFinding, _Mapping]]] = ..., signed_seq: _Optional[int] = ..., key: _Optional[str] = ...) -> None: ...

class VerifyAuditRequest(_message.Message):
    __slots__ = ("anchor",)
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    anchor: str
    def __init__(self, anchor: _Optional[str] = ...) -> None: ...

class AuditFinding(_message.Message):
    __slots__ = ("check", "seq", "message")
    CHECK_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    check: str
    seq: int
    message: str
    def __init__(self, check: _Optional[str] = ..., seq: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class AuditCheckpoint(_message.Message):
    __slots__ = ("seq", "hash", "time", "key", "signature", "anchor")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    seq: int
    hash: str
    time: float
    key: str
    signature: str
    anchor: str
    def __init__(self, seq: _Optional[int] = ..., hash: _Optional[str] = ..., time: _Optional[float] = ..., key: _Optional[str] = ..., signature: _Optional[str] = ..., anchor: _Optional[str] = ...) -> None: ...
