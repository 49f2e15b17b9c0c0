"""The gateway's clients of the backend services."""

from __future__ import annotations

from collections.abc import AsyncIterator

from credit.records.v1 import records_pb2 as rec
from credit.records.v1 import records_pb2_grpc as rec_grpc
from credit.registry.v1 import registry_pb2 as pb
from credit.registry.v1 import registry_pb2_grpc as pb_grpc
from credit_common.grpc_client import Backend, BackendUnavailable

__all__ = ["Backend", "BackendUnavailable", "RecordsClient", "RegistryClient"]


class RegistryClient(Backend):
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

    async def get(self, code: str) -> pb.Subject:
        return await self.call(
            self._stub.GetSubject, pb.GetSubjectRequest(code=code), idempotent=True
        )

    async def search(self, request: pb.SearchSubjectsRequest) -> pb.SearchSubjectsResponse:
        return await self.call(self._stub.SearchSubjects, request, idempotent=True)

    async def update(self, request: pb.UpdateSubjectRequest) -> pb.Subject:
        return await self.call(self._stub.UpdateSubject, request, idempotent=False)

    async def merge(self, request: pb.MergeSubjectRequest) -> pb.Subject:
        return await self.call(self._stub.MergeSubject, request, idempotent=False)


class RecordsClient(Backend):
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
        return await self.call(self._stub.ListSubjectRecords, request, idempotent=True)

    async def ingest(
        self, messages: AsyncIterator[rec.IngestRecordsRequest]
    ) -> rec.IngestRecordsResponse:
        """Streams a bulk load; its deadline is the bulk one, not the per-call one."""
        return await self.call_stream(
            self._stub.IngestRecords, messages, deadline=self.bulk_deadline
        )
