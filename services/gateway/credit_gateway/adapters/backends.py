"""The gateway's clients of the backend services."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from credit.lists.v1 import lists_pb2 as lst
from credit.lists.v1 import lists_pb2_grpc as lst_grpc
from credit.objections.v1 import objections_pb2 as ob
from credit.objections.v1 import objections_pb2_grpc as ob_grpc
from credit.records.v1 import records_pb2 as rec
from credit.records.v1 import records_pb2_grpc as rec_grpc
from credit.registry.v1 import registry_pb2 as pb
from credit.registry.v1 import registry_pb2_grpc as pb_grpc
from credit_common.grpc_client import Backend, BackendUnavailable
from credit_common.grpc_errors import RemoteError

__all__ = [
    "Backend",
    "BackendUnavailable",
    "ListsClient",
    "ObjectionsClient",
    "RecordsClient",
    "RegistryClient",
]


class RegistryClient(Backend):
    health_service = pb.DESCRIPTOR.services_by_name["RegistryService"].full_name

    def __init__(self, address: str, deadline: float) -> None:
        super().__init__("registry", address, deadline)

    @property
    def _stub(self) -> pb_grpc.RegistryServiceStub:
        return self.stub(pb_grpc.RegistryServiceStub)

    async def validate(self, codes: list[str]) -> pb.ValidateCodesResponse:
        request = pb.ValidateCodesRequest(codes=codes, check_registered=True)
        return await self.call(self._stub.ValidateCodes, request, idempotent=True)

    async def register(self, request: pb.RegisterSubjectRequest) -> pb.Subject:
        return await self.call(self._stub.RegisterSubject, request, idempotent=False)

    async def resolve(self, codes: list[str]) -> pb.ResolveCodesResponse:
        request = pb.ResolveCodesRequest(codes=codes, summary_only=True)
        return await self.call(self._stub.ResolveCodes, request, idempotent=True)

    async def get(
        self, code: str, *, summary: bool = False, merged_keys: bool = False
    ) -> pb.Subject:
        """The subject a code names; `summary`: only its id, code, key, kind, status and
        name (half the registry's work: no histories, legacy codes or dates);
        `merged_keys`: with the keys of the subjects merged into it."""
        return await self.call(
            self._stub.GetSubject,
            pb.GetSubjectRequest(code=code, summary_only=summary, with_merged_keys=merged_keys),
            idempotent=True,
        )

    async def find(self, code: str, *, merged_keys: bool = False) -> pb.Subject | None:
        """The summary of the subject a code names, or None when no subject answers to it
        (`get`'s NOT_FOUND)."""
        try:
            return await self.get(code, summary=True, merged_keys=merged_keys)
        except RemoteError as error:
            if error.code != grpc.StatusCode.NOT_FOUND:
                raise
            return None

    async def search(self, request: pb.SearchSubjectsRequest) -> pb.SearchSubjectsResponse:
        return await self.call(self._stub.SearchSubjects, request, idempotent=True)

    async def update(self, request: pb.UpdateSubjectRequest) -> pb.Subject:
        return await self.call(self._stub.UpdateSubject, request, idempotent=False)

    async def merge(self, request: pb.MergeSubjectRequest) -> pb.Subject:
        return await self.call(self._stub.MergeSubject, request, idempotent=False)


class RecordsClient(Backend):
    health_service = rec.DESCRIPTOR.services_by_name["RecordsService"].full_name

    def __init__(self, address: str, deadline: float, bulk_deadline: float) -> None:
        super().__init__("records", address, deadline)
        self.bulk_deadline = bulk_deadline

    @property
    def _stub(self) -> rec_grpc.RecordsServiceStub:
        return self.stub(rec_grpc.RecordsServiceStub)

    async def catalog(self) -> rec.ListCatalogItemsResponse:
        return await self.call(
            self._stub.ListCatalogItems, rec.ListCatalogItemsRequest(), idempotent=True
        )

    async def item(self, item_code: str) -> rec.CatalogItem | None:
        """A catalog item, or None when the catalog holds none of that code."""
        try:
            return await self.call(
                self._stub.GetCatalogItem,
                rec.GetCatalogItemRequest(item_code=item_code),
                idempotent=True,
            )
        except RemoteError as error:
            if error.code != grpc.StatusCode.NOT_FOUND:
                raise
            return None

    async def put_item(self, request: rec.PutCatalogItemRequest) -> rec.CatalogItem:
        return await self.call(self._stub.PutCatalogItem, request, idempotent=False)

    async def submit(self, request: rec.SubmitRecordRequest) -> rec.SubmitRecordResponse:
        return await self.call(self._stub.SubmitRecord, request, idempotent=False)

    async def correct(self, request: rec.CorrectRecordRequest) -> rec.Record:
        return await self.call(self._stub.CorrectRecord, request, idempotent=False)

    async def withdraw(self, request: rec.WithdrawRecordRequest) -> rec.Record:
        return await self.call(self._stub.WithdrawRecord, request, idempotent=False)

    async def get(self, request: rec.GetRecordRequest) -> rec.Record:
        return await self.call(self._stub.GetRecord, request, idempotent=True)

    async def for_subject(
        self, request: rec.ListSubjectRecordsRequest
    ) -> rec.ListSubjectRecordsResponse:
        """Fields come as JSON text (`Record.fields_json`): many records at a time, each a
        Struct to build and to read back otherwise. A records service from before the flag
        sends Structs, which `record_views.fields_of` reads too."""
        request.fields_as_json = True
        return await self.call(self._stub.ListSubjectRecords, request, idempotent=True)

    async def ingest(
        self, messages: AsyncIterator[rec.IngestRecordsRequest]
    ) -> rec.IngestRecordsResponse:
        """Streams a bulk load; its deadline is the bulk one, not the per-call one."""
        return await self.call_stream(
            self._stub.IngestRecords, messages, deadline=self.bulk_deadline
        )


class ListsClient(Backend):
    health_service = lst.DESCRIPTOR.services_by_name["ListsService"].full_name

    def __init__(self, address: str, deadline: float) -> None:
        super().__init__("lists", address, deadline)

    @property
    def _stub(self) -> lst_grpc.ListsServiceStub:
        return self.stub(lst_grpc.ListsServiceStub)

    async def list_types(self) -> lst.ListListTypesResponse:
        return await self.call(
            self._stub.ListListTypes, lst.ListListTypesRequest(), idempotent=True
        )

    async def put_list_type(self, request: lst.PutListTypeRequest) -> lst.ListType:
        return await self.call(self._stub.PutListType, request, idempotent=False)

    async def measures(self) -> lst.ListMeasuresResponse:
        return await self.call(self._stub.ListMeasures, lst.ListMeasuresRequest(), idempotent=True)

    async def put_measure(self, request: lst.PutMeasureRequest) -> lst.Measure:
        return await self.call(self._stub.PutMeasure, request, idempotent=False)

    async def propose(self, request: lst.ProposeEntryRequest) -> lst.Entry:
        return await self.call(self._stub.ProposeEntry, request, idempotent=False)

    async def get(self, entry_id: str) -> lst.Entry:
        return await self.call(
            self._stub.GetEntry, lst.GetEntryRequest(entry_id=entry_id), idempotent=True
        )

    async def search(self, request: lst.ListEntriesRequest) -> lst.ListEntriesResponse:
        return await self.call(self._stub.ListEntries, request, idempotent=True)

    async def remove(self, request: lst.RemoveEntryRequest) -> lst.Entry:
        return await self.call(self._stub.RemoveEntry, request, idempotent=False)

    async def status(self, subject_id: str, include_past: bool) -> lst.SubjectStatusResponse:
        request = lst.SubjectStatusRequest(subject_id=subject_id, include_past=include_past)
        return await self.call(self._stub.SubjectStatus, request, idempotent=True)

    async def check(self, request: lst.CheckRestrictionsRequest) -> lst.CheckRestrictionsResponse:
        return await self.call(self._stub.CheckRestrictions, request, idempotent=True)

    async def feedback(self, request: lst.RecordFeedbackRequest) -> lst.Feedback:
        return await self.call(self._stub.RecordFeedback, request, idempotent=False)

    async def statistics(
        self, request: lst.FeedbackStatisticsRequest
    ) -> lst.FeedbackStatisticsResponse:
        return await self.call(self._stub.FeedbackStatistics, request, idempotent=True)


class ObjectionsClient(Backend):
    health_service = ob.DESCRIPTOR.services_by_name["ObjectionsService"].full_name

    def __init__(self, address: str, deadline: float) -> None:
        super().__init__("objections", address, deadline)

    @property
    def _stub(self) -> ob_grpc.ObjectionsServiceStub:
        return self.stub(ob_grpc.ObjectionsServiceStub)

    async def file(self, request: ob.FileObjectionRequest) -> ob.Objection:
        return await self.call(self._stub.FileObjection, request, idempotent=False)

    async def accept(self, request: ob.AcceptObjectionRequest) -> ob.Objection:
        return await self.call(self._stub.AcceptObjection, request, idempotent=False)

    async def reject(self, request: ob.RejectObjectionRequest) -> ob.Objection:
        return await self.call(self._stub.RejectObjection, request, idempotent=False)

    async def verify(self, request: ob.VerifyObjectionRequest) -> ob.Objection:
        return await self.call(self._stub.VerifyObjection, request, idempotent=False)

    async def decide(self, request: ob.DecideObjectionRequest) -> ob.Objection:
        return await self.call(self._stub.DecideObjection, request, idempotent=False)

    async def withdraw(self, request: ob.WithdrawObjectionRequest) -> ob.Objection:
        return await self.call(self._stub.WithdrawObjection, request, idempotent=False)

    async def get(self, objection_id: str) -> ob.Objection:
        request = ob.GetObjectionRequest(objection_id=objection_id)
        return await self.call(self._stub.GetObjection, request, idempotent=True)

    async def search(self, request: ob.ListObjectionsRequest) -> ob.ListObjectionsResponse:
        return await self.call(self._stub.ListObjections, request, idempotent=True)

    async def apply_repair(self, request: ob.ApplyRepairRequest) -> ob.Repair:
        return await self.call(self._stub.ApplyRepair, request, idempotent=False)

    async def decide_repair(self, request: ob.DecideRepairRequest) -> ob.Repair:
        return await self.call(self._stub.DecideRepair, request, idempotent=False)

    async def get_repair(self, repair_id: str) -> ob.Repair:
        request = ob.GetRepairRequest(repair_id=repair_id)
        return await self.call(self._stub.GetRepair, request, idempotent=True)

    async def search_repairs(self, request: ob.ListRepairsRequest) -> ob.ListRepairsResponse:
        return await self.call(self._stub.ListRepairs, request, idempotent=True)
