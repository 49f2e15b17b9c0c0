import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListType(_message.Message):
    __slots__ = ("list_type", "name", "color", "authority_department", "publicity_days", "default_duration_days", "min_days_before_repair", "repairable", "basis", "version", "max_duration_days", "min_duration_days")
    LIST_TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    AUTHORITY_DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    PUBLICITY_DAYS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_DURATION_DAYS_FIELD_NUMBER: _ClassVar[int]
    MIN_DAYS_BEFORE_REPAIR_FIELD_NUMBER: _ClassVar[int]
    REPAIRABLE_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_DURATION_DAYS_FIELD_NUMBER: _ClassVar[int]
    MIN_DURATION_DAYS_FIELD_NUMBER: _ClassVar[int]
    list_type: str
    name: str
    color: str
    authority_department: str
    publicity_days: int
    default_duration_days: int
    min_days_before_repair: int
    repairable: bool
    basis: str
    version: int
    max_duration_days: int
    min_duration_days: int
    def __init__(self, list_type: _Optional[str] = ..., name: _Optional[str] = ..., color: _Optional[str] = ..., authority_department: _Optional[str] = ..., publicity_days: _Optional[int] = ..., default_duration_days: _Optional[int] = ..., min_days_before_repair: _Optional[int] = ..., repairable: _Optional[bool] = ..., basis: _Optional[str] = ..., version: _Optional[int] = ..., max_duration_days: _Optional[int] = ..., min_duration_days: _Optional[int] = ...) -> None: ...

class Measure(_message.Message):
    __slots__ = ("measure_code", "name", "kind", "implementing_department", "list_types", "basis", "version")
    MEASURE_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    IMPLEMENTING_DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    LIST_TYPES_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    measure_code: str
    name: str
    kind: str
    implementing_department: str
    list_types: _containers.RepeatedScalarFieldContainer[str]
    basis: str
    version: int
    def __init__(self, measure_code: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., implementing_department: _Optional[str] = ..., list_types: _Optional[_Iterable[str]] = ..., basis: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ListListTypesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListListTypesResponse(_message.Message):
    __slots__ = ("list_types",)
    LIST_TYPES_FIELD_NUMBER: _ClassVar[int]
    list_types: _containers.RepeatedCompositeFieldContainer[ListType]
    def __init__(self, list_types: _Optional[_Iterable[_Union[ListType, _Mapping]]] = ...) -> None: ...

class PutListTypeRequest(_message.Message):
    __slots__ = ("list_type", "actor")
    LIST_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    list_type: ListType
    actor: str
    def __init__(self, list_type: _Optional[_Union[ListType, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class ListMeasuresRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListMeasuresResponse(_message.Message):
    __slots__ = ("measures",)
    MEASURES_FIELD_NUMBER: _ClassVar[int]
    measures: _containers.RepeatedCompositeFieldContainer[Measure]
    def __init__(self, measures: _Optional[_Iterable[_Union[Measure, _Mapping]]] = ...) -> None: ...

class PutMeasureRequest(_message.Message):
    __slots__ = ("measure", "actor")
    MEASURE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    measure: Measure
    actor: str
    def __init__(self, measure: _Optional[_Union[Measure, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class Caller(_message.Message):
    __slots__ = ("client_id", "department")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    department: str
    def __init__(self, client_id: _Optional[str] = ..., department: _Optional[str] = ...) -> None: ...

class Transition(_message.Message):
    __slots__ = ("from_state", "to_state", "at", "actor", "reason")
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    from_state: str
    to_state: str
    at: _timestamp_pb2.Timestamp
    actor: str
    reason: str
    def __init__(self, from_state: _Optional[str] = ..., to_state: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Entry(_message.Message):
    __slots__ = ("entry_id", "subject_id", "subject_key", "list_type", "color", "state", "reason", "decision_ref", "basis_record_ids", "department", "proposed_at", "publicity_until", "effective_from", "valid_until", "under_objection", "history", "repairable", "repair_possible_from", "proposed_by")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    LIST_TYPE_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DECISION_REF_FIELD_NUMBER: _ClassVar[int]
    BASIS_RECORD_IDS_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_AT_FIELD_NUMBER: _ClassVar[int]
    PUBLICITY_UNTIL_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    UNDER_OBJECTION_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    REPAIRABLE_FIELD_NUMBER: _ClassVar[int]
    REPAIR_POSSIBLE_FROM_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_BY_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    subject_id: str
    subject_key: str
    list_type: str
    color: str
    state: str
    reason: str
    decision_ref: str
    basis_record_ids: _containers.RepeatedScalarFieldContainer[str]
    department: str
    proposed_at: _timestamp_pb2.Timestamp
    publicity_until: _timestamp_pb2.Timestamp
    effective_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    under_objection: bool
    history: _containers.RepeatedCompositeFieldContainer[Transition]
    repairable: bool
    repair_possible_from: _timestamp_pb2.Timestamp
    proposed_by: str
    def __init__(self, entry_id: _Optional[str] = ..., subject_id: _Optional[str] = ..., subject_key: _Optional[str] = ..., list_type: _Optional[str] = ..., color: _Optional[str] = ..., state: _Optional[str] = ..., reason: _Optional[str] = ..., decision_ref: _Optional[str] = ..., basis_record_ids: _Optional[_Iterable[str]] = ..., department: _Optional[str] = ..., proposed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., publicity_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., effective_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., under_objection: _Optional[bool] = ..., history: _Optional[_Iterable[_Union[Transition, _Mapping]]] = ..., repairable: _Optional[bool] = ..., repair_possible_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., proposed_by: _Optional[str] = ...) -> None: ...

class ProposeEntryRequest(_message.Message):
    __slots__ = ("caller", "subject_code", "list_type", "reason", "decision_ref", "basis_record_ids", "valid_until")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_CODE_FIELD_NUMBER: _ClassVar[int]
    LIST_TYPE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DECISION_REF_FIELD_NUMBER: _ClassVar[int]
    BASIS_RECORD_IDS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    subject_code: str
    list_type: str
    reason: str
    decision_ref: str
    basis_record_ids: _containers.RepeatedScalarFieldContainer[str]
    valid_until: _timestamp_pb2.Timestamp
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., subject_code: _Optional[str] = ..., list_type: _Optional[str] = ..., reason: _Optional[str] = ..., decision_ref: _Optional[str] = ..., basis_record_ids: _Optional[_Iterable[str]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetEntryRequest(_message.Message):
    __slots__ = ("entry_id",)
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    def __init__(self, entry_id: _Optional[str] = ...) -> None: ...

class ListEntriesRequest(_message.Message):
    __slots__ = ("list_type", "state", "subject_id", "current_only", "page_size", "page_token")
    LIST_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENT_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    list_type: str
    state: str
    subject_id: str
    current_only: bool
    page_size: int
    page_token: str
    def __init__(self, list_type: _Optional[str] = ..., state: _Optional[str] = ..., subject_id: _Optional[str] = ..., current_only: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEntriesResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[Entry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[Entry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RemoveEntryRequest(_message.Message):
    __slots__ = ("caller", "entry_id", "reason", "withdraw")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    WITHDRAW_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    entry_id: str
    reason: str
    withdraw: bool
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., entry_id: _Optional[str] = ..., reason: _Optional[str] = ..., withdraw: _Optional[bool] = ...) -> None: ...

class TriggeredMeasure(_message.Message):
    __slots__ = ("measure_code", "name", "kind", "entry_id", "list_type", "basis", "implementing_department")
    MEASURE_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    LIST_TYPE_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    IMPLEMENTING_DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    measure_code: str
    name: str
    kind: str
    entry_id: str
    list_type: str
    basis: str
    implementing_department: str
    def __init__(self, measure_code: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., entry_id: _Optional[str] = ..., list_type: _Optional[str] = ..., basis: _Optional[str] = ..., implementing_department: _Optional[str] = ...) -> None: ...

class SubjectStatusRequest(_message.Message):
    __slots__ = ("subject_id", "include_past")
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PAST_FIELD_NUMBER: _ClassVar[int]
    subject_id: str
    include_past: bool
    def __init__(self, subject_id: _Optional[str] = ..., include_past: _Optional[bool] = ...) -> None: ...

class SubjectStatusResponse(_message.Message):
    __slots__ = ("entries", "measures", "restricted", "rewarded")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    MEASURES_FIELD_NUMBER: _ClassVar[int]
    RESTRICTED_FIELD_NUMBER: _ClassVar[int]
    REWARDED_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[Entry]
    measures: _containers.RepeatedCompositeFieldContainer[TriggeredMeasure]
    restricted: bool
    rewarded: bool
    def __init__(self, entries: _Optional[_Iterable[_Union[Entry, _Mapping]]] = ..., measures: _Optional[_Iterable[_Union[TriggeredMeasure, _Mapping]]] = ..., restricted: _Optional[bool] = ..., rewarded: _Optional[bool] = ...) -> None: ...

class CheckRestrictionsRequest(_message.Message):
    __slots__ = ("subject_codes", "measure_codes", "grouped")
    SUBJECT_CODES_FIELD_NUMBER: _ClassVar[int]
    MEASURE_CODES_FIELD_NUMBER: _ClassVar[int]
    GROUPED_FIELD_NUMBER: _ClassVar[int]
    subject_codes: _containers.RepeatedScalarFieldContainer[str]
    measure_codes: _containers.RepeatedScalarFieldContainer[str]
    grouped: bool
    def __init__(self, subject_codes: _Optional[_Iterable[str]] = ..., measure_codes: _Optional[_Iterable[str]] = ..., grouped: _Optional[bool] = ...) -> None: ...

class TriggeringEntry(_message.Message):
    __slots__ = ("entry_id", "list_type")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    LIST_TYPE_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    list_type: str
    def __init__(self, entry_id: _Optional[str] = ..., list_type: _Optional[str] = ...) -> None: ...

class RestrictionResult(_message.Message):
    __slots__ = ("code", "found", "restricted", "rewarded", "measures", "error", "canonical_code", "natural_person", "subject_key", "triggering")
    CODE_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    RESTRICTED_FIELD_NUMBER: _ClassVar[int]
    REWARDED_FIELD_NUMBER: _ClassVar[int]
    MEASURES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CANONICAL_CODE_FIELD_NUMBER: _ClassVar[int]
    NATURAL_PERSON_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    TRIGGERING_FIELD_NUMBER: _ClassVar[int]
    code: str
    found: bool
    restricted: bool
    rewarded: bool
    measures: _containers.RepeatedCompositeFieldContainer[TriggeredMeasure]
    error: str
    canonical_code: str
    natural_person: bool
    subject_key: str
    triggering: _containers.RepeatedCompositeFieldContainer[TriggeringEntry]
    def __init__(self, code: _Optional[str] = ..., found: _Optional[bool] = ..., restricted: _Optional[bool] = ..., rewarded: _Optional[bool] = ..., measures: _Optional[_Iterable[_Union[TriggeredMeasure, _Mapping]]] = ..., error: _Optional[str] = ..., canonical_code: _Optional[str] = ..., natural_person: _Optional[bool] = ..., subject_key: _Optional[str] = ..., triggering: _Optional[_Iterable[_Union[TriggeringEntry, _Mapping]]] = ...) -> None: ...

class MeasureSet(_message.Message):
    __slots__ = ("measures",)
    MEASURES_FIELD_NUMBER: _ClassVar[int]
    measures: _containers.RepeatedCompositeFieldContainer[TriggeredMeasure]
    def __init__(self, measures: _Optional[_Iterable[_Union[TriggeredMeasure, _Mapping]]] = ...) -> None: ...

class CheckRestrictionsResponse(_message.Message):
    __slots__ = ("results", "measures_by_list_type")
    class MeasuresByListTypeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: MeasureSet
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[MeasureSet, _Mapping]] = ...) -> None: ...
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MEASURES_BY_LIST_TYPE_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RestrictionResult]
    measures_by_list_type: _containers.MessageMap[str, MeasureSet]
    def __init__(self, results: _Optional[_Iterable[_Union[RestrictionResult, _Mapping]]] = ..., measures_by_list_type: _Optional[_Mapping[str, MeasureSet]] = ...) -> None: ...

class RecordFeedbackRequest(_message.Message):
    __slots__ = ("caller", "entry_id", "measure_code", "applied_on", "outcome", "note")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    MEASURE_CODE_FIELD_NUMBER: _ClassVar[int]
    APPLIED_ON_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    entry_id: str
    measure_code: str
    applied_on: str
    outcome: str
    note: str
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., entry_id: _Optional[str] = ..., measure_code: _Optional[str] = ..., applied_on: _Optional[str] = ..., outcome: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class Feedback(_message.Message):
    __slots__ = ("feedback_id", "entry_id", "measure_code", "department", "applied_on", "outcome", "note")
    FEEDBACK_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    MEASURE_CODE_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    APPLIED_ON_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    feedback_id: str
    entry_id: str
    measure_code: str
    department: str
    applied_on: str
    outcome: str
    note: str
    def __init__(self, feedback_id: _Optional[str] = ..., entry_id: _Optional[str] = ..., measure_code: _Optional[str] = ..., department: _Optional[str] = ..., applied_on: _Optional[str] = ..., outcome: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class FeedbackStatisticsRequest(_message.Message):
    __slots__ = ("measure_code", "department", "month_from", "month_to")
    MEASURE_CODE_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    MONTH_FROM_FIELD_NUMBER: _ClassVar[int]
    MONTH_TO_FIELD_NUMBER: _ClassVar[int]
    measure_code: str
    department: str
    month_from: str
    month_to: str
    def __init__(self, measure_code: _Optional[str] = ..., department: _Optional[str] = ..., month_from: _Optional[str] = ..., month_to: _Optional[str] = ...) -> None: ...

class FeedbackCount(_message.Message):
    __slots__ = ("measure_code", "department", "month", "count")
    MEASURE_CODE_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    measure_code: str
    department: str
    month: str
    count: int
    def __init__(self, measure_code: _Optional[str] = ..., department: _Optional[str] = ..., month: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class FeedbackStatisticsResponse(_message.Message):
    __slots__ = ("counts",)
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.RepeatedCompositeFieldContainer[FeedbackCount]
    def __init__(self, counts: _Optional[_Iterable[_Union[FeedbackCount, _Mapping]]] = ...) -> None: ...
