import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Level(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEVEL_UNSPECIFIED: _ClassVar[Level]
    LEVEL_PUBLIC: _ClassVar[Level]
    LEVEL_SHARED: _ClassVar[Level]
    LEVEL_AUTHORIZED: _ClassVar[Level]
    LEVEL_RESTRICTED: _ClassVar[Level]
LEVEL_UNSPECIFIED: Level
LEVEL_PUBLIC: Level
LEVEL_SHARED: Level
LEVEL_AUTHORIZED: Level
LEVEL_RESTRICTED: Level

class PublicityRule(_message.Message):
    __slots__ = ("kind", "months", "until_field", "by_severity", "days", "min_days")
    class BySeverityEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: SeverityWindow
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[SeverityWindow, _Mapping]] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_FIELD_NUMBER: _ClassVar[int]
    BY_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    MIN_DAYS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    months: int
    until_field: str
    by_severity: _containers.MessageMap[str, SeverityWindow]
    days: int
    min_days: int
    def __init__(self, kind: _Optional[str] = ..., months: _Optional[int] = ..., until_field: _Optional[str] = ..., by_severity: _Optional[_Mapping[str, SeverityWindow]] = ..., days: _Optional[int] = ..., min_days: _Optional[int] = ...) -> None: ...

class SeverityWindow(_message.Message):
    __slots__ = ("publish", "min_months", "max_months")
    PUBLISH_FIELD_NUMBER: _ClassVar[int]
    MIN_MONTHS_FIELD_NUMBER: _ClassVar[int]
    MAX_MONTHS_FIELD_NUMBER: _ClassVar[int]
    publish: bool
    min_months: int
    max_months: int
    def __init__(self, publish: _Optional[bool] = ..., min_months: _Optional[int] = ..., max_months: _Optional[int] = ...) -> None: ...

class CatalogItem(_message.Message):
    __slots__ = ("item_code", "name", "category", "nature", "disclosure", "source_departments", "publicity", "retention_days", "repairable", "non_repairable_kinds", "fields_schema", "schema_version", "late_after_workdays", "updated_at", "nature_field", "nature_values")
    class NatureValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    NATURE_FIELD_NUMBER: _ClassVar[int]
    DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_DEPARTMENTS_FIELD_NUMBER: _ClassVar[int]
    PUBLICITY_FIELD_NUMBER: _ClassVar[int]
    RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    REPAIRABLE_FIELD_NUMBER: _ClassVar[int]
    NON_REPAIRABLE_KINDS_FIELD_NUMBER: _ClassVar[int]
    FIELDS_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    LATE_AFTER_WORKDAYS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    NATURE_FIELD_FIELD_NUMBER: _ClassVar[int]
    NATURE_VALUES_FIELD_NUMBER: _ClassVar[int]
    item_code: str
    name: str
    category: str
    nature: str
    disclosure: str
    source_departments: _containers.RepeatedScalarFieldContainer[str]
    publicity: PublicityRule
    retention_days: int
    repairable: bool
    non_repairable_kinds: _containers.RepeatedScalarFieldContainer[str]
    fields_schema: str
    schema_version: int
    late_after_workdays: int
    updated_at: _timestamp_pb2.Timestamp
    nature_field: str
    nature_values: _containers.ScalarMap[str, str]
    def __init__(self, item_code: _Optional[str] = ..., name: _Optional[str] = ..., category: _Optional[str] = ..., nature: _Optional[str] = ..., disclosure: _Optional[str] = ..., source_departments: _Optional[_Iterable[str]] = ..., publicity: _Optional[_Union[PublicityRule, _Mapping]] = ..., retention_days: _Optional[int] = ..., repairable: _Optional[bool] = ..., non_repairable_kinds: _Optional[_Iterable[str]] = ..., fields_schema: _Optional[str] = ..., schema_version: _Optional[int] = ..., late_after_workdays: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., nature_field: _Optional[str] = ..., nature_values: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListCatalogItemsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCatalogItemsResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[CatalogItem]
    def __init__(self, items: _Optional[_Iterable[_Union[CatalogItem, _Mapping]]] = ...) -> None: ...

class GetCatalogItemRequest(_message.Message):
    __slots__ = ("item_code",)
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    item_code: str
    def __init__(self, item_code: _Optional[str] = ...) -> None: ...

class PutCatalogItemRequest(_message.Message):
    __slots__ = ("item", "actor")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    item: CatalogItem
    actor: str
    def __init__(self, item: _Optional[_Union[CatalogItem, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class Caller(_message.Message):
    __slots__ = ("client_id", "department")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    department: str
    def __init__(self, client_id: _Optional[str] = ..., department: _Optional[str] = ...) -> None: ...

class SubmitRecordRequest(_message.Message):
    __slots__ = ("caller", "subject_code", "item_code", "source_ref", "decided_on", "fields")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_CODE_FIELD_NUMBER: _ClassVar[int]
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REF_FIELD_NUMBER: _ClassVar[int]
    DECIDED_ON_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    subject_code: str
    item_code: str
    source_ref: str
    decided_on: str
    fields: _struct_pb2.Struct
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., subject_code: _Optional[str] = ..., item_code: _Optional[str] = ..., source_ref: _Optional[str] = ..., decided_on: _Optional[str] = ..., fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class SubmitRecordResponse(_message.Message):
    __slots__ = ("record", "created")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    record: Record
    created: bool
    def __init__(self, record: _Optional[_Union[Record, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class RecordVersion(_message.Message):
    __slots__ = ("version", "fields", "schema_version", "submitted_by", "department", "submitted_at", "reason")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_BY_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    version: int
    fields: _struct_pb2.Struct
    schema_version: int
    submitted_by: str
    department: str
    submitted_at: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, version: _Optional[int] = ..., fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., schema_version: _Optional[int] = ..., submitted_by: _Optional[str] = ..., department: _Optional[str] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("record_id", "subject_id", "subject_code", "item_code", "item_name", "category", "nature", "disclosure", "department", "source_ref", "decided_on", "status", "version", "fields", "publicity_until", "retention_until", "publicly_visible", "late", "repairable", "repaired", "under_objection", "submitted_at", "updated_at", "versions", "severity", "repair_possible_from", "never_public", "calendar_note", "fields_json")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_CODE_FIELD_NUMBER: _ClassVar[int]
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    ITEM_NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    NATURE_FIELD_NUMBER: _ClassVar[int]
    DISCLOSURE_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REF_FIELD_NUMBER: _ClassVar[int]
    DECIDED_ON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    PUBLICITY_UNTIL_FIELD_NUMBER: _ClassVar[int]
    RETENTION_UNTIL_FIELD_NUMBER: _ClassVar[int]
    PUBLICLY_VISIBLE_FIELD_NUMBER: _ClassVar[int]
    LATE_FIELD_NUMBER: _ClassVar[int]
    REPAIRABLE_FIELD_NUMBER: _ClassVar[int]
    REPAIRED_FIELD_NUMBER: _ClassVar[int]
    UNDER_OBJECTION_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    REPAIR_POSSIBLE_FROM_FIELD_NUMBER: _ClassVar[int]
    NEVER_PUBLIC_FIELD_NUMBER: _ClassVar[int]
    CALENDAR_NOTE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_JSON_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    subject_id: str
    subject_code: str
    item_code: str
    item_name: str
    category: str
    nature: str
    disclosure: str
    department: str
    source_ref: str
    decided_on: str
    status: str
    version: int
    fields: _struct_pb2.Struct
    publicity_until: str
    retention_until: str
    publicly_visible: bool
    late: bool
    repairable: bool
    repaired: bool
    under_objection: bool
    submitted_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    versions: _containers.RepeatedCompositeFieldContainer[RecordVersion]
    severity: str
    repair_possible_from: str
    never_public: bool
    calendar_note: str
    fields_json: str
    def __init__(self, record_id: _Optional[str] = ..., subject_id: _Optional[str] = ..., subject_code: _Optional[str] = ..., item_code: _Optional[str] = ..., item_name: _Optional[str] = ..., category: _Optional[str] = ..., nature: _Optional[str] = ..., disclosure: _Optional[str] = ..., department: _Optional[str] = ..., source_ref: _Optional[str] = ..., decided_on: _Optional[str] = ..., status: _Optional[str] = ..., version: _Optional[int] = ..., fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., publicity_until: _Optional[str] = ..., retention_until: _Optional[str] = ..., publicly_visible: _Optional[bool] = ..., late: _Optional[bool] = ..., repairable: _Optional[bool] = ..., repaired: _Optional[bool] = ..., under_objection: _Optional[bool] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., versions: _Optional[_Iterable[_Union[RecordVersion, _Mapping]]] = ..., severity: _Optional[str] = ..., repair_possible_from: _Optional[str] = ..., never_public: _Optional[bool] = ..., calendar_note: _Optional[str] = ..., fields_json: _Optional[str] = ...) -> None: ...

class RowError(_message.Message):
    __slots__ = ("field", "message")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    field: str
    message: str
    def __init__(self, field: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class IngestOptions(_message.Message):
    __slots__ = ("caller", "atomic")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    ATOMIC_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    atomic: bool
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., atomic: _Optional[bool] = ...) -> None: ...

class IngestRow(_message.Message):
    __slots__ = ("row", "subject_code", "item_code", "source_ref", "decided_on", "fields_json", "parse_errors", "text_cells")
    ROW_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_CODE_FIELD_NUMBER: _ClassVar[int]
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REF_FIELD_NUMBER: _ClassVar[int]
    DECIDED_ON_FIELD_NUMBER: _ClassVar[int]
    FIELDS_JSON_FIELD_NUMBER: _ClassVar[int]
    PARSE_ERRORS_FIELD_NUMBER: _ClassVar[int]
    TEXT_CELLS_FIELD_NUMBER: _ClassVar[int]
    row: int
    subject_code: str
    item_code: str
    source_ref: str
    decided_on: str
    fields_json: str
    parse_errors: _containers.RepeatedCompositeFieldContainer[RowError]
    text_cells: bool
    def __init__(self, row: _Optional[int] = ..., subject_code: _Optional[str] = ..., item_code: _Optional[str] = ..., source_ref: _Optional[str] = ..., decided_on: _Optional[str] = ..., fields_json: _Optional[str] = ..., parse_errors: _Optional[_Iterable[_Union[RowError, _Mapping]]] = ..., text_cells: _Optional[bool] = ...) -> None: ...

class IngestRecordsRequest(_message.Message):
    __slots__ = ("options", "rows")
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    options: IngestOptions
    rows: IngestRows
    def __init__(self, options: _Optional[_Union[IngestOptions, _Mapping]] = ..., rows: _Optional[_Union[IngestRows, _Mapping]] = ...) -> None: ...

class IngestRows(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[IngestRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[IngestRow, _Mapping]]] = ...) -> None: ...

class RejectedRow(_message.Message):
    __slots__ = ("row", "errors")
    ROW_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    row: int
    errors: _containers.RepeatedCompositeFieldContainer[RowError]
    def __init__(self, row: _Optional[int] = ..., errors: _Optional[_Iterable[_Union[RowError, _Mapping]]] = ...) -> None: ...

class IngestRecordsResponse(_message.Message):
    __slots__ = ("accepted", "unchanged", "rejected", "rejected_count", "atomic", "rolled_back")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    ATOMIC_FIELD_NUMBER: _ClassVar[int]
    ROLLED_BACK_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    unchanged: int
    rejected: _containers.RepeatedCompositeFieldContainer[RejectedRow]
    rejected_count: int
    atomic: bool
    rolled_back: bool
    def __init__(self, accepted: _Optional[int] = ..., unchanged: _Optional[int] = ..., rejected: _Optional[_Iterable[_Union[RejectedRow, _Mapping]]] = ..., rejected_count: _Optional[int] = ..., atomic: _Optional[bool] = ..., rolled_back: _Optional[bool] = ...) -> None: ...

class CorrectRecordRequest(_message.Message):
    __slots__ = ("caller", "record_id", "fields", "reason")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    record_id: str
    fields: _struct_pb2.Struct
    reason: str
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., record_id: _Optional[str] = ..., fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class WithdrawRecordRequest(_message.Message):
    __slots__ = ("caller", "record_id", "reason")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    record_id: str
    reason: str
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., record_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetRecordRequest(_message.Message):
    __slots__ = ("record_id", "level", "with_versions")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    WITH_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    level: Level
    with_versions: bool
    def __init__(self, record_id: _Optional[str] = ..., level: _Optional[_Union[Level, str]] = ..., with_versions: _Optional[bool] = ...) -> None: ...

class ListSubjectRecordsRequest(_message.Message):
    __slots__ = ("subject_id", "level", "category", "item_code", "as_of", "page_size", "page_token", "fields_as_json")
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FIELDS_AS_JSON_FIELD_NUMBER: _ClassVar[int]
    subject_id: str
    level: Level
    category: str
    item_code: str
    as_of: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    fields_as_json: bool
    def __init__(self, subject_id: _Optional[str] = ..., level: _Optional[_Union[Level, str]] = ..., category: _Optional[str] = ..., item_code: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., fields_as_json: _Optional[bool] = ...) -> None: ...

class ListSubjectRecordsResponse(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[Record]
    next_page_token: str
    def __init__(self, records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
