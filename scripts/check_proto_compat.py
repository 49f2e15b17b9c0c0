"""Fails when protos/ breaks a caller built against the baseline contract.

The baseline is a descriptor set committed in protos/compat/baseline.binpb (or, with
--ref, the protos/ of any git ref, e.g. the last `contract-*` tag). A change breaks the
contract when it removes, renumbers, renames or retypes a field; removes a message, an
enum, an enum value, a service or an RPC; changes an RPC's request or response type or
streaming; moves a field into or out of a oneof; or removes a file or package. Adding is
always fine; so is deleting a field or enum value whose number the proto now reserves.

With --buf PATH the same baseline is also checked by `buf breaking` (FILE rules), so
both must pass. --update writes the baseline (from the work tree, or from --ref).

    python scripts/check_proto_compat.py [--ref REF] [--buf PATH]
    python scripts/check_proto_compat.py --update [--ref REF]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import grpc_tools
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
BASELINE = PROTOS / "compat" / "baseline.binpb"
WELL_KNOWN = "google/"
BUF_CONFIG = json.dumps({"version": "v2", "breaking": {"use": ["FILE"]}})

FDP = descriptor_pb2.FieldDescriptorProto


def compile_protos(root: Path, *, source_info: bool = False) -> descriptor_pb2.FileDescriptorSet:
    """Compiles every .proto under root into one descriptor set, imports included."""
    sources = sorted(str(p.relative_to(root)) for p in root.rglob("*.proto"))
    if not sources:
        raise SystemExit(f"no .proto files under {root}")
    include = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.binpb"
        args = [
            "protoc",
            f"-I{root}",
            f"-I{include}",
            "--include_imports",
            f"--descriptor_set_out={out}",
            *(["--include_source_info"] if source_info else []),
            *sources,
        ]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {root}")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def protos_at_ref(ref: str, dest: Path) -> Path:
    """Extracts protos/ as committed at a git ref into dest; returns the extracted root."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "protos"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "protos"


# -- the rules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str
    number: int
    type: str
    label: str
    oneof: str


@dataclass(frozen=True)
class Message:
    file: str
    fields: dict[int, Field]
    reserved: tuple[tuple[int, int], ...]  # [start, end) ranges
    reserved_names: frozenset[str]


@dataclass(frozen=True)
class Enum:
    file: str
    values: dict[int, str]
    reserved: tuple[tuple[int, int], ...]  # [start, end] ranges (inclusive for enums)


@dataclass(frozen=True)
class Method:
    input: str
    output: str
    client_streaming: bool
    server_streaming: bool


@dataclass
class Contract:
    files: dict[str, str]  # file name -> package
    messages: dict[str, Message]
    enums: dict[str, Enum]
    services: dict[str, dict[str, Method]]


def _type_of(field: descriptor_pb2.FieldDescriptorProto) -> str:
    if field.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM, FDP.TYPE_GROUP):
        return field.type_name.lstrip(".")
    return FDP.Type.Name(field.type).removeprefix("TYPE_").lower()


def _label_of(field: descriptor_pb2.FieldDescriptorProto) -> str:
    if field.label == FDP.LABEL_REPEATED:
        return "repeated"
    return "optional" if field.proto3_optional else "singular"


def contract_of(fds: descriptor_pb2.FileDescriptorSet) -> Contract:
    """Indexes a descriptor set by fully qualified name, well-known types left out."""
    contract = Contract({}, {}, {}, {})

    def add_enum(enum: descriptor_pb2.EnumDescriptorProto, scope: str, file: str) -> None:
        contract.enums[f"{scope}.{enum.name}"] = Enum(
            file,
            {v.number: v.name for v in enum.value},
            tuple((r.start, r.end) for r in enum.reserved_range),
        )

    def add_message(msg: descriptor_pb2.DescriptorProto, scope: str, file: str) -> None:
        name = f"{scope}.{msg.name}"
        oneofs = [o.name for o in msg.oneof_decl]
        contract.messages[name] = Message(
            file,
            {
                f.number: Field(
                    f.name,
                    f.number,
                    _type_of(f),
                    _label_of(f),
                    oneofs[f.oneof_index]
                    if f.HasField("oneof_index") and not f.proto3_optional
                    else "",
                )
                for f in msg.field
            },
            tuple((r.start, r.end) for r in msg.reserved_range),
            frozenset(msg.reserved_name),
        )
        for nested in msg.nested_type:
            add_message(nested, name, file)
        for enum in msg.enum_type:
            add_enum(enum, name, file)

    for file in fds.file:
        if file.name.startswith(WELL_KNOWN):
            continue
        contract.files[file.name] = file.package
        for msg in file.message_type:
            add_message(msg, file.package, file.name)
        for enum in file.enum_type:
            add_enum(enum, file.package, file.name)
        for service in file.service:
            contract.services[f"{file.package}.{service.name}"] = {
                m.name: Method(
                    m.input_type.lstrip("."),
                    m.output_type.lstrip("."),
                    m.client_streaming,
                    m.server_streaming,
                )
                for m in service.method
            }
    return contract


def _reserved(number: int, ranges: tuple[tuple[int, int], ...], *, inclusive: bool) -> bool:
    return any(start <= number < end + (1 if inclusive else 0) for start, end in ranges)


def _message_breaks(name: str, old: Message, new: Message) -> list[str]:
    found: list[str] = []
    by_name = {f.name: f for f in new.fields.values()}
    for number, was in sorted(old.fields.items()):
        now = new.fields.get(number)
        where = f"{name}.{was.name} (= {number})"
        if now is None:
            moved = by_name.get(was.name)
            if moved is not None:
                found.append(f"{where}: renumbered to {moved.number}")
            elif not _reserved(number, new.reserved, inclusive=False):
                found.append(f"{where}: removed without reserving its number")
            continue
        if now.type != was.type:
            found.append(f"{where}: type changed from {was.type} to {now.type}")
        if now.label != was.label:
            found.append(f"{where}: changed from {was.label} to {now.label}")
        if now.name != was.name:
            found.append(f"{where}: renamed to {now.name}")
        if now.oneof != was.oneof:
            found.append(f"{where}: oneof changed from '{was.oneof}' to '{now.oneof}'")
    return found


def _enum_breaks(name: str, old: Enum, new: Enum) -> list[str]:
    found: list[str] = []
    for number, was in sorted(old.values.items()):
        now = new.values.get(number)
        if now is None:
            if not _reserved(number, new.reserved, inclusive=True):
                found.append(f"{name}.{was} (= {number}): removed without reserving its number")
        elif now != was:
            found.append(f"{name}.{was} (= {number}): renamed to {now}")
    return found


def _service_breaks(name: str, old: dict[str, Method], new: dict[str, Method]) -> list[str]:
    found: list[str] = []
    for rpc, was in sorted(old.items()):
        now = new.get(rpc)
        where = f"{name}.{rpc}"
        if now is None:
            found.append(f"{where}: RPC removed")
            continue
        if now.input != was.input:
            found.append(f"{where}: request type changed from {was.input} to {now.input}")
        if now.output != was.output:
            found.append(f"{where}: response type changed from {was.output} to {now.output}")
        if (now.client_streaming, now.server_streaming) != (
            was.client_streaming,
            was.server_streaming,
        ):
            found.append(f"{where}: streaming changed")
    return found


def breaking_changes(
    baseline: descriptor_pb2.FileDescriptorSet, current: descriptor_pb2.FileDescriptorSet
) -> list[str]:
    """Every way current breaks a caller of baseline, one line each."""
    old, new = contract_of(baseline), contract_of(current)
    found: list[str] = []
    for package in sorted(set(old.files.values()) - set(new.files.values())):
        found.append(f"package {package}: removed or renamed")
    for file, package in sorted(old.files.items()):
        if file not in new.files:
            found.append(f"file {file}: removed")
        elif new.files[file] != package:
            found.append(f"file {file}: package changed from {package} to {new.files[file]}")
    for name, message in sorted(old.messages.items()):
        if name not in new.messages:
            found.append(f"message {name}: removed")
        else:
            found += _message_breaks(name, message, new.messages[name])
    for name, enum in sorted(old.enums.items()):
        if name not in new.enums:
            found.append(f"enum {name}: removed")
        else:
            found += _enum_breaks(name, enum, new.enums[name])
    for name, methods in sorted(old.services.items()):
        if name not in new.services:
            found.append(f"service {name}: removed")
        else:
            found += _service_breaks(name, methods, new.services[name])
    return found


# -- buf ---------------------------------------------------------------------------------


def buf_breaking(buf: str, baseline: Path, current: Path) -> list[str]:
    """`buf breaking` with the FILE rules; its findings, one line each, rule first."""
    command = [buf, "breaking", str(current), "--against", str(baseline)]
    result = subprocess.run(
        [*command, "--config", BUF_CONFIG, "--error-format", "json"],
        capture_output=True,
        text=True,
    )
    if result.returncode not in (0, 100):  # 100: breaking changes found
        raise SystemExit(f"buf failed ({result.returncode}): {result.stderr.strip()}")
    found = []
    for line in result.stdout.splitlines():
        if line.strip():
            issue = json.loads(line)
            where = f"{issue.get('path', '?')}:{issue.get('start_line', 0)}"
            found.append(f"buf {issue.get('type', '?')}: {where}: {issue.get('message', '')}")
    return found


# -- command line ------------------------------------------------------------------------


def _baseline_set(ref: str | None, baseline: Path, tmp: Path) -> descriptor_pb2.FileDescriptorSet:
    if ref:
        return compile_protos(protos_at_ref(ref, tmp))
    if not baseline.exists():
        raise SystemExit(f"no baseline at {baseline}: run with --update (see --help)")
    return descriptor_pb2.FileDescriptorSet.FromString(baseline.read_bytes())


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--protos", type=Path, default=PROTOS, help="the current protos")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="the snapshot file")
    parser.add_argument("--ref", help="take the baseline from protos/ at this git ref")
    parser.add_argument("--update", action="store_true", help="write the baseline snapshot")
    parser.add_argument("--buf", metavar="PATH", help="also run `buf breaking` with this binary")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        if args.update:
            source = protos_at_ref(args.ref, Path(tmp)) if args.ref else args.protos
            args.baseline.parent.mkdir(parents=True, exist_ok=True)
            args.baseline.write_bytes(compile_protos(source).SerializeToString(deterministic=True))
            print(f"baseline written to {args.baseline} from {args.ref or source}")
            return 0
        baseline = _baseline_set(args.ref, args.baseline, Path(tmp))
        current = compile_protos(args.protos, source_info=True)
        found = breaking_changes(baseline, current)
        if args.buf:
            baseline_file, current_file = Path(tmp) / "baseline.binpb", Path(tmp) / "current.binpb"
            baseline_file.write_bytes(baseline.SerializeToString())
            current_file.write_bytes(current.SerializeToString())
            found += buf_breaking(args.buf, baseline_file, current_file)
    against = f"git ref {args.ref}" if args.ref else _shown(args.baseline)
    if found:
        print(f"{_shown(args.protos)} breaks the contract of {against}:", *found, sep="\n  ")
        return 1
    agrees = " (and buf agrees)" if args.buf else ""
    print(f"{_shown(args.protos)} is compatible with {against}{agrees}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
