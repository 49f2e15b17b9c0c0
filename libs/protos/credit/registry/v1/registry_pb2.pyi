import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubjectKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBJECT_KIND_UNSPECIFIED: _ClassVar[SubjectKind]
    SUBJECT_KIND_ORGANIZATION: _ClassVar[SubjectKind]
    SUBJECT_KIND_INDIVIDUAL_BUSINESS: _ClassVar[SubjectKind]
    SUBJECT_KIND_NATURAL_PERSON: _ClassVar[SubjectKind]

class SubjectStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBJECT_STATUS_UNSPECIFIED: _ClassVar[SubjectStatus]
    SUBJECT_STATUS_ACTIVE: _ClassVar[SubjectStatus]
    SUBJECT_STATUS_REVOKED: _ClassVar[SubjectStatus]
    SUBJECT_STATUS_DEREGISTERED: _ClassVar[SubjectStatus]
    SUBJECT_STATUS_MERGED: _ClassVar[SubjectStatus]
SUBJECT_KIND_UNSPECIFIED: SubjectKind
SUBJECT_KIND_ORGANIZATION: SubjectKind
SUBJECT_KIND_INDIVIDUAL_BUSINESS: SubjectKind
SUBJECT_KIND_NATURAL_PERSON: SubjectKind
SUBJECT_STATUS_UNSPECIFIED: SubjectStatus
SUBJECT_STATUS_ACTIVE: SubjectStatus
SUBJECT_STATUS_REVOKED: SubjectStatus
SUBJECT_STATUS_DEREGISTERED: SubjectStatus
SUBJECT_STATUS_MERGED: SubjectStatus

class LegacyCode(_message.Message):
    __slots__ = ("type", "value")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    type: str
    value: str
    def __init__(self, type: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class FormerName(_message.Message):
    __slots__ = ("name", "until")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    until: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StatusChange(_message.Message):
    __slots__ = ("status", "reason", "actor", "at")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    status: SubjectStatus
    reason: str
    actor: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, status: _Optional[_Union[SubjectStatus, str]] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Subject(_message.Message):
    __slots__ = ("subject_id", "code", "kind", "name", "status", "registration_authority", "org_category", "division_code", "org_code", "legal_representative", "registered_on", "former_names", "legacy_codes", "status_history", "requested_code", "created_at", "updated_at", "merged_codes", "subject_key", "merged_keys")
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_AUTHORITY_FIELD_NUMBER: _ClassVar[int]
    ORG_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DIVISION_CODE_FIELD_NUMBER: _ClassVar[int]
    ORG_CODE_FIELD_NUMBER: _ClassVar[int]
    LEGAL_REPRESENTATIVE_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_ON_FIELD_NUMBER: _ClassVar[int]
    FORMER_NAMES_FIELD_NUMBER: _ClassVar[int]
    LEGACY_CODES_FIELD_NUMBER: _ClassVar[int]
    STATUS_HISTORY_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_CODE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    MERGED_CODES_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    MERGED_KEYS_FIELD_NUMBER: _ClassVar[int]
    subject_id: str
    code: str
    kind: SubjectKind
    name: str
    status: SubjectStatus
    registration_authority: str
    org_category: str
    division_code: str
    org_code: str
    legal_representative: str
    registered_on: str
    former_names: _containers.RepeatedCompositeFieldContainer[FormerName]
    legacy_codes: _containers.RepeatedCompositeFieldContainer[LegacyCode]
    status_history: _containers.RepeatedCompositeFieldContainer[StatusChange]
    requested_code: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    merged_codes: _containers.RepeatedScalarFieldContainer[str]
    subject_key: str
    merged_keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, subject_id: _Optional[str] = ..., code: _Optional[str] = ..., kind: _Optional[_Union[SubjectKind, str]] = ..., name: _Optional[str] = ..., status: _Optional[_Union[SubjectStatus, str]] = ..., registration_authority: _Optional[str] = ..., org_category: _Optional[str] = ..., division_code: _Optional[str] = ..., org_code: _Optional[str] = ..., legal_representative: _Optional[str] = ..., registered_on: _Optional[str] = ..., former_names: _Optional[_Iterable[_Union[FormerName, _Mapping]]] = ..., legacy_codes: _Optional[_Iterable[_Union[LegacyCode, _Mapping]]] = ..., status_history: _Optional[_Iterable[_Union[StatusChange, _Mapping]]] = ..., requested_code: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., merged_codes: _Optional[_Iterable[str]] = ..., subject_key: _Optional[str] = ..., merged_keys: _Optional[_Iterable[str]] = ...) -> None: ...

class CodeValidation(_message.Message):
    __slots__ = ("code", "valid", "kind", "reason", "warnings", "note", "registered")
    CODE_FIELD_NUMBER: _ClassVar[int]
    VALID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    code: str
    valid: bool
    kind: str
    reason: str
    warnings: _containers.RepeatedScalarFieldContainer[str]
    note: str
    registered: bool
    def __init__(self, code: _Optional[str] = ..., valid: _Optional[bool] = ..., kind: _Optional[str] = ..., reason: _Optional[str] = ..., warnings: _Optional[_Iterable[str]] = ..., note: _Optional[str] = ..., registered: _Optional[bool] = ...) -> None: ...

class ValidateCodesRequest(_message.Message):
    __slots__ = ("codes", "check_registered")
    CODES_FIELD_NUMBER: _ClassVar[int]
    CHECK_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    codes: _containers.RepeatedScalarFieldContainer[str]
    check_registered: bool
    def __init__(self, codes: _Optional[_Iterable[str]] = ..., check_registered: _Optional[bool] = ...) -> None: ...

class ValidateCodesResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[CodeValidation]
    def __init__(self, results: _Optional[_Iterable[_Union[CodeValidation, _Mapping]]] = ...) -> None: ...

class RegisterSubjectRequest(_message.Message):
    __slots__ = ("kind", "name", "registration_authority", "org_category", "division_code", "org_code", "id_number", "legal_representative", "registered_on", "legacy_codes", "actor")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_AUTHORITY_FIELD_NUMBER: _ClassVar[int]
    ORG_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DIVISION_CODE_FIELD_NUMBER: _ClassVar[int]
    ORG_CODE_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    LEGAL_REPRESENTATIVE_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_ON_FIELD_NUMBER: _ClassVar[int]
    LEGACY_CODES_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    kind: SubjectKind
    name: str
    registration_authority: str
    org_category: str
    division_code: str
    org_code: str
    id_number: str
    legal_representative: str
    registered_on: str
    legacy_codes: _containers.RepeatedCompositeFieldContainer[LegacyCode]
    actor: str
    def __init__(self, kind: _Optional[_Union[SubjectKind, str]] = ..., name: _Optional[str] = ..., registration_authority: _Optional[str] = ..., org_category: _Optional[str] = ..., division_code: _Optional[str] = ..., org_code: _Optional[str] = ..., id_number: _Optional[str] = ..., legal_representative: _Optional[str] = ..., registered_on: _Optional[str] = ..., legacy_codes: _Optional[_Iterable[_Union[LegacyCode, _Mapping]]] = ..., actor: _Optional[str] = ...) -> None: ...

class GetSubjectRequest(_message.Message):
    __slots__ = ("code", "summary_only", "with_merged_keys")
    CODE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_ONLY_FIELD_NUMBER: _ClassVar[int]
    WITH_MERGED_KEYS_FIELD_NUMBER: _ClassVar[int]
    code: str
    summary_only: bool
    with_merged_keys: bool
    def __init__(self, code: _Optional[str] = ..., summary_only: _Optional[bool] = ..., with_merged_keys: _Optional[bool] = ...) -> None: ...

class ResolveCodesRequest(_message.Message):
    __slots__ = ("codes", "summary_only")
    CODES_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_ONLY_FIELD_NUMBER: _ClassVar[int]
    codes: _containers.RepeatedScalarFieldContainer[str]
    summary_only: bool
    def __init__(self, codes: _Optional[_Iterable[str]] = ..., summary_only: _Optional[bool] = ...) -> None: ...

class ResolvedCode(_message.Message):
    __slots__ = ("requested_code", "found", "subject")
    REQUESTED_CODE_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    requested_code: str
    found: bool
    subject: Subject
    def __init__(self, requested_code: _Optional[str] = ..., found: _Optional[bool] = ..., subject: _Optional[_Union[Subject, _Mapping]] = ...) -> None: ...

class ResolveCodesResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ResolvedCode]
    def __init__(self, results: _Optional[_Iterable[_Union[ResolvedCode, _Mapping]]] = ...) -> None: ...

class SearchSubjectsRequest(_message.Message):
    __slots__ = ("q", "division_code", "kind", "status", "page_size", "page_token", "exclude_natural_persons_by_name")
    Q_FIELD_NUMBER: _ClassVar[int]
    DIVISION_CODE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_NATURAL_PERSONS_BY_NAME_FIELD_NUMBER: _ClassVar[int]
    q: str
    division_code: str
    kind: SubjectKind
    status: SubjectStatus
    page_size: int
    page_token: str
    exclude_natural_persons_by_name: bool
    def __init__(self, q: _Optional[str] = ..., division_code: _Optional[str] = ..., kind: _Optional[_Union[SubjectKind, str]] = ..., status: _Optional[_Union[SubjectStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., exclude_natural_persons_by_name: _Optional[bool] = ...) -> None: ...

class SearchSubjectsResponse(_message.Message):
    __slots__ = ("subjects", "next_page_token")
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    subjects: _containers.RepeatedCompositeFieldContainer[Subject]
    next_page_token: str
    def __init__(self, subjects: _Optional[_Iterable[_Union[Subject, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateSubjectRequest(_message.Message):
    __slots__ = ("code", "name", "legal_representative", "status", "reason", "actor")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LEGAL_REPRESENTATIVE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    legal_representative: str
    status: SubjectStatus
    reason: str
    actor: str
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., legal_representative: _Optional[str] = ..., status: _Optional[_Union[SubjectStatus, str]] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class MergeSubjectRequest(_message.Message):
    __slots__ = ("code", "into", "reason", "actor")
    CODE_FIELD_NUMBER: _ClassVar[int]
    INTO_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    code: str
    into: str
    reason: str
    actor: str
    def __init__(self, code: _Optional[str] = ..., into: _Optional[str] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...
