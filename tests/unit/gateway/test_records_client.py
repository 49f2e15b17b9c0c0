"""The gateway's records client asks for a subject's records with their fields as JSON text
(over a real gRPC connection, to a server that only notes what it was asked)."""

from __future__ import annotations

import grpc

from credit.records.v1 import records_pb2 as rec
from credit.records.v1 import records_pb2_grpc as rec_grpc
from credit_gateway.adapters.backends import RecordsClient


class Noting(rec_grpc.RecordsServiceServicer):
    def __init__(self) -> None:
        self.asked: list[rec.ListSubjectRecordsRequest] = []

    async def ListSubjectRecords(
        self, request: rec.ListSubjectRecordsRequest, context: object
    ) -> rec.ListSubjectRecordsResponse:
        self.asked.append(request)
        return rec.ListSubjectRecordsResponse(records=[rec.Record(fields_json='{"a":1}')])


async def test_a_subjects_records_are_asked_for_with_fields_as_json() -> None:
    server = grpc.aio.server()
    noting = Noting()
    rec_grpc.add_RecordsServiceServicer_to_server(noting, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    client = RecordsClient(f"127.0.0.1:{port}", deadline=5, bulk_deadline=5)
    try:
        reply = await client.for_subject(rec.ListSubjectRecordsRequest(subject_id="s1"))
    finally:
        await client.close()
        await server.stop(None)
    [asked] = noting.asked
    assert asked.subject_id == "s1" and asked.fields_as_json
    assert reply.records[0].fields_json == '{"a":1}'
