"""The registry's gRPC servicer: parse, call the use case, answer."""

from __future__ import annotations

from typing import Any

from credit.registry.v1 import registry_pb2 as pb
from credit.registry.v1 import registry_pb2_grpc as pb_grpc
from credit_common.grpc_errors import map_domain_errors
from credit_common.messages import offset_of, token_for
from credit_registry.entrypoints import convert
from credit_registry.service_layer import commands
from credit_registry.service_layer.registry import Registry

Context = Any  # grpc.aio.ServicerContext; grpc ships no type stubs


@map_domain_errors
class RegistryServicer(pb_grpc.RegistryServiceServicer):
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def ValidateCodes(
        self, request: pb.ValidateCodesRequest, context: Context
    ) -> pb.ValidateCodesResponse:
        checked = await self.registry.validate(
            list(request.codes), check_registered=request.check_registered
        )
        reply = pb.ValidateCodesResponse()
        for c in checked:
            convert.add_validation(reply.results, c)
        return reply

    async def RegisterSubject(
        self, request: pb.RegisterSubjectRequest, context: Context
    ) -> pb.Subject:
        subject = await self.registry.register(convert.register_from_pb(request))
        return convert.subject_to_pb(subject)

    async def GetSubject(self, request: pb.GetSubjectRequest, context: Context) -> pb.Subject:
        resolution = await self.registry.get(request.code, details=not request.summary_only)
        assert resolution.subject is not None
        if request.summary_only:
            reply = pb.Subject(**convert.summary_fields(resolution.subject, resolution.requested))
        else:
            reply = convert.subject_to_pb(resolution.subject, resolution.requested)
        if request.with_merged_keys:
            reply.merged_keys.extend(await self.registry.merged_keys(resolution.subject.id))
        return reply

    async def ResolveCodes(
        self, request: pb.ResolveCodesRequest, context: Context
    ) -> pb.ResolveCodesResponse:
        resolved = await self.registry.resolve(
            list(request.codes), details=not request.summary_only
        )
        reply = pb.ResolveCodesResponse()
        add = reply.results.add
        for r in resolved:
            if r.subject is None:
                add(requested_code=r.requested, found=False)
            elif request.summary_only:
                add(
                    requested_code=r.requested,
                    found=True,
                    subject=convert.summary_fields(r.subject, r.requested),
                )
            else:
                add(requested_code=r.requested, found=True).subject.CopyFrom(
                    convert.subject_to_pb(r.subject, r.requested)
                )
        return reply

    async def SearchSubjects(
        self, request: pb.SearchSubjectsRequest, context: Context
    ) -> pb.SearchSubjectsResponse:
        subjects, next_offset = await self.registry.search(
            commands.Search(
                q=request.q,
                division_code=request.division_code,
                kind=convert.PB_TO_KIND.get(request.kind),
                status=convert.PB_TO_STATUS.get(request.status),
                page_size=request.page_size,
                offset=offset_of(request.page_token),
                exclude_natural_persons_by_name=request.exclude_natural_persons_by_name,
            )
        )
        return pb.SearchSubjectsResponse(
            subjects=[convert.subject_to_pb(s) for s in subjects],
            next_page_token=token_for(next_offset),
        )

    async def UpdateSubject(self, request: pb.UpdateSubjectRequest, context: Context) -> pb.Subject:
        return convert.subject_to_pb(await self.registry.update(convert.update_from_pb(request)))

    async def MergeSubject(self, request: pb.MergeSubjectRequest, context: Context) -> pb.Subject:
        survivor = await self.registry.merge(
            commands.Merge(
                code=request.code, into=request.into, reason=request.reason, actor=request.actor
            )
        )
        return convert.subject_to_pb(survivor)
