"""The registry as a real process spoken to over gRPC."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import grpc
import httpx
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from credit.registry.v1 import registry_pb2 as pb
from credit.registry.v1 import registry_pb2_grpc as pb_grpc
from credit_registry.domain import codes
from credit_registry.settings import RegistrySettings
from support.backends import BACKEND
from support.processes import ServiceProcess, free_port, start_registry, start_service


def _details(error: grpc.aio.AioRpcError) -> tuple[str, list[str]]:
    raw = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(raw)
    reason, fields = "", []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields = [v.field for v in bad.field_violations]
    return reason, fields


async def test_bad_requests_get_status_codes_with_details(registry_process: ServiceProcess) -> None:
    async with grpc.aio.insecure_channel(registry_process.address) as channel:
        stub = pb_grpc.RegistryServiceStub(channel)
        try:
            await stub.RegisterSubject(
                pb.RegisterSubjectRequest(
                    kind=pb.SUBJECT_KIND_ORGANIZATION,
                    name="",
                    registration_authority="9",
                    org_category="5",
                    division_code="31",
                ),
                timeout=5,
            )
            raise AssertionError("expected INVALID_ARGUMENT")
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert _details(error) == (
                "invalid_argument",
                ["name", "org_category", "division_code"],
            )
        try:
            await stub.GetSubject(pb.GetSubjectRequest(code="91310115MA8BRK2A83"), timeout=5)
            raise AssertionError("expected NOT_FOUND")
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND
            assert _details(error)[0] == "not_found"
        try:
            await stub.ValidateCodes(pb.ValidateCodesRequest(codes=["x"] * 10_001), timeout=5)
            raise AssertionError("expected INVALID_ARGUMENT")
        except grpc.aio.AioRpcError as error:
            assert _details(error) == ("batch_too_large", ["codes"])


async def test_health_and_reflection_answer(registry_process: ServiceProcess) -> None:
    async with grpc.aio.insecure_channel(registry_process.address) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="credit.registry.v1.RegistryService"), timeout=5
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = [
            r
            async for r in stub.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
            )
        ]
        names = {s.name for s in replies[0].list_services_response.service}
        assert "credit.registry.v1.RegistryService" in names


def test_sigterm_stops_the_registry_cleanly(registry_process: ServiceProcess) -> None:
    assert registry_process.stop(signal.SIGTERM) == 0


async def test_two_registry_processes_allocating_at_once_never_hand_out_the_same_code(
    registry_settings: RegistrySettings, registry_process: ServiceProcess, tmp_path: Path
) -> None:
    second = start_registry(registry_settings, tmp_path, port=free_port())
    try:

        async def register_many(address: str, prefix: str) -> list[str]:
            async with grpc.aio.insecure_channel(address) as channel:
                stub = pb_grpc.RegistryServiceStub(channel)
                replies = await asyncio.gather(
                    *(
                        stub.RegisterSubject(
                            pb.RegisterSubjectRequest(
                                kind=pb.SUBJECT_KIND_ORGANIZATION,
                                name=f"{prefix}并发公司{i}",
                                registration_authority="9",
                                org_category="1",
                                division_code="310115",
                            ),
                            timeout=30,
                        )
                        for i in range(60)
                    )
                )
                return [r.code for r in replies]

        first_codes, second_codes = await asyncio.gather(
            register_many(registry_process.address, "甲"), register_many(second.address, "乙")
        )
    finally:
        second.stop()
    every = first_codes + second_codes
    assert len(every) == len(set(every)) == 120
    assert all(codes.validate_uscc(c).valid for c in every)


async def test_a_summary_lookup_answers_whom_a_code_names_without_the_details(
    registry_process: ServiceProcess,
) -> None:
    async with grpc.aio.insecure_channel(registry_process.address) as channel:
        stub = pb_grpc.RegistryServiceStub(channel)
        person = await stub.RegisterSubject(
            pb.RegisterSubjectRequest(
                kind=pb.SUBJECT_KIND_NATURAL_PERSON, name="王五", id_number="110105198001010016"
            ),
            timeout=5,
        )
        org = await stub.RegisterSubject(
            pb.RegisterSubjectRequest(
                kind=pb.SUBJECT_KIND_ORGANIZATION,
                name="摘要测试有限公司",
                registration_authority="9",
                org_category="1",
                division_code="310115",
                legacy_codes=[pb.LegacyCode(type="registration_number", value="310115000000012")],
            ),
            timeout=5,
        )
        for subject, asked in [(person, "110105198001010016"), (org, "310115000000012")]:
            full = await stub.GetSubject(pb.GetSubjectRequest(code=asked), timeout=5)
            summary = await stub.GetSubject(
                pb.GetSubjectRequest(code=asked, summary_only=True), timeout=5
            )
            named = (
                "subject_id",
                "code",
                "subject_key",
                "kind",
                "status",
                "name",
                "requested_code",
            )
            assert [getattr(summary, f) for f in named] == [getattr(full, f) for f in named]
            assert summary.subject_id == subject.subject_id
            assert full.status_history and not summary.status_history
        assert summary.requested_code == "310115000000012" and not summary.legacy_codes
        assert full.legacy_codes


async def test_a_value_the_database_refuses_is_the_callers_error_not_an_internal_one(
    registry_process: ServiceProcess,
) -> None:
    """Texts past their column's length or holding NUL, sent straight to the service (the
    gateway refuses them itself): PostgreSQL refuses them, and the caller hears
    INVALID_ARGUMENT with the database's words, not INTERNAL. SQLite stores them."""
    requests = [
        pb.RegisterSubjectRequest(
            kind=pb.SUBJECT_KIND_ORGANIZATION,
            name="直连测试有限公司",
            registration_authority="9",
            org_category="1",
            division_code="310115",
            legal_representative="法" * 101,
        ),
        pb.RegisterSubjectRequest(
            kind=pb.SUBJECT_KIND_ORGANIZATION,
            name="直连\x00测试有限公司",
            registration_authority="9",
            org_category="1",
            division_code="310115",
        ),
    ]
    async with grpc.aio.insecure_channel(registry_process.address) as channel:
        stub = pb_grpc.RegistryServiceStub(channel)
        for request in requests:
            try:
                await stub.RegisterSubject(request, timeout=5)
                assert BACKEND != "postgres", "PostgreSQL stored what it cannot"
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
                reason, fields = _details(error)
                assert (reason, fields) == ("invalid_value", ["request"])
                assert "cannot store" in (error.details() or "")


async def test_a_registry_with_a_metrics_port_counts_its_calls_there(
    registry_settings: RegistrySettings, tmp_path: Path
) -> None:
    """The service's setting reaches its server: a lookup of a code on file under no one is
    counted NOT_FOUND on /metrics."""
    metrics_port = free_port()
    process = start_service(
        "credit_registry",
        "CREDIT_REGISTRY_",
        {
            "DATABASE_URL": registry_settings.effective_database_url,
            "METRICS_PORT": str(metrics_port),
        },
        tmp_path,
        port=free_port(),
    )
    try:
        async with grpc.aio.insecure_channel(process.address) as channel:
            stub = pb_grpc.RegistryServiceStub(channel)
            try:
                await stub.GetSubject(pb.GetSubjectRequest(code="91310115MA1K3YJ12X"))
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.NOT_FOUND
        async with httpx.AsyncClient() as http:
            reply = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert reply.status_code == 200
        assert (
            'credit_grpc_server_calls_total{code="NOT_FOUND",method="GetSubject",'
            'service="registry"} 1.0'
        ) in reply.text
    finally:
        assert process.stop(signal.SIGTERM) == 0
