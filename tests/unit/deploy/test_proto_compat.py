"""scripts/check_proto_compat.py catches what breaks a deployed caller and lets additions
through. Each test compiles a small contract and a changed copy in a temporary folder."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from deploy_support import ROOT, load_script
from google.protobuf import descriptor_pb2

compat = load_script("check_proto_compat")

BASE = """
syntax = "proto3";
package demo.v1;

enum Kind {
  KIND_UNSPECIFIED = 0;
  KIND_ORGANISATION = 1;
  KIND_PERSON = 2;
}

message Subject {
  string code = 1;
  string name = 2;
  int64 version = 3;
  Kind kind = 4;
  repeated string legacy_codes = 5;
}

message GetSubjectRequest { string code = 1; }
message ListSubjectsRequest { int32 page_size = 1; string page_token = 2; }
message ListSubjectsResponse { repeated Subject subjects = 1; string next_page_token = 2; }

service DemoService {
  rpc GetSubject(GetSubjectRequest) returns (Subject);
  rpc ListSubjects(ListSubjectsRequest) returns (ListSubjectsResponse);
}
"""


def compile_contract(folder: Path, text: str) -> descriptor_pb2.FileDescriptorSet:
    path = folder / "demo" / "v1" / "demo.proto"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    result: descriptor_pb2.FileDescriptorSet = compat.compile_protos(folder)
    return result


def breaks(tmp_path: Path, changed: str) -> list[str]:
    baseline = compile_contract(tmp_path / "old", BASE)
    current = compile_contract(tmp_path / "new", changed)
    found: list[str] = compat.breaking_changes(baseline, current)
    return found


def test_the_same_contract_is_compatible(tmp_path: Path) -> None:
    assert breaks(tmp_path, BASE) == []


def test_adding_fields_values_messages_and_rpcs_is_compatible(tmp_path: Path) -> None:
    changed = (
        BASE.replace("KIND_PERSON = 2;", "KIND_PERSON = 2;\n  KIND_INDIVIDUAL_BUSINESS = 3;")
        .replace(
            "repeated string legacy_codes = 5;",
            "repeated string legacy_codes = 5;\n  string status = 6;",
        )
        .replace(
            "service DemoService {",
            "message Ping {}\nservice DemoService {\n  rpc Check(Ping) returns (Ping);",
        )
    )
    assert breaks(tmp_path, changed) == []


def test_a_removed_field_breaks(tmp_path: Path) -> None:
    changed = BASE.replace("  string name = 2;\n", "")
    assert breaks(tmp_path, changed) == [
        "demo.v1.Subject.name (= 2): removed without reserving its number"
    ]


def test_a_removed_field_whose_number_is_reserved_is_compatible(tmp_path: Path) -> None:
    changed = BASE.replace("  string name = 2;\n", '  reserved 2;\n  reserved "name";\n')
    assert breaks(tmp_path, changed) == []


def test_a_renumbered_field_breaks(tmp_path: Path) -> None:
    changed = BASE.replace("int64 version = 3;", "int64 version = 7;")
    assert breaks(tmp_path, changed) == ["demo.v1.Subject.version (= 3): renumbered to 7"]


def test_a_retyped_field_breaks(tmp_path: Path) -> None:
    changed = BASE.replace("int64 version = 3;", "string version = 3;")
    assert breaks(tmp_path, changed) == [
        "demo.v1.Subject.version (= 3): type changed from int64 to string"
    ]


def test_a_field_retyped_to_another_message_breaks(tmp_path: Path) -> None:
    changed = BASE.replace("Kind kind = 4;", "GetSubjectRequest kind = 4;")
    assert breaks(tmp_path, changed) == [
        "demo.v1.Subject.kind (= 4): type changed from demo.v1.Kind to demo.v1.GetSubjectRequest"
    ]


def test_a_singular_field_made_repeated_breaks(tmp_path: Path) -> None:
    changed = BASE.replace(
        "string code = 1;\n  string name", "repeated string code = 1;\n  string name"
    )
    assert breaks(tmp_path, changed) == [
        "demo.v1.Subject.code (= 1): changed from singular to repeated"
    ]


def test_a_renamed_field_breaks(tmp_path: Path) -> None:
    changed = BASE.replace("string name = 2;", "string display_name = 2;")
    assert breaks(tmp_path, changed) == ["demo.v1.Subject.name (= 2): renamed to display_name"]


def test_a_removed_enum_value_breaks(tmp_path: Path) -> None:
    changed = BASE.replace("  KIND_PERSON = 2;\n", "")
    assert breaks(tmp_path, changed) == [
        "demo.v1.Kind.KIND_PERSON (= 2): removed without reserving its number"
    ]


def test_a_removed_message_and_the_rpc_using_it_break(tmp_path: Path) -> None:
    changed = BASE.replace(
        "message ListSubjectsRequest { int32 page_size = 1; string page_token = 2; }\n", ""
    ).replace("  rpc ListSubjects(ListSubjectsRequest) returns (ListSubjectsResponse);\n", "")
    assert breaks(tmp_path, changed) == [
        "message demo.v1.ListSubjectsRequest: removed",
        "demo.v1.DemoService.ListSubjects: RPC removed",
    ]


def test_a_changed_response_type_breaks(tmp_path: Path) -> None:
    changed = BASE.replace("returns (Subject);", "returns (ListSubjectsResponse);")
    assert breaks(tmp_path, changed) == [
        "demo.v1.DemoService.GetSubject: response type changed from demo.v1.Subject"
        " to demo.v1.ListSubjectsResponse"
    ]


def test_a_streaming_change_breaks(tmp_path: Path) -> None:
    changed = BASE.replace("returns (Subject);", "returns (stream Subject);")
    assert breaks(tmp_path, changed) == ["demo.v1.DemoService.GetSubject: streaming changed"]


def test_a_renamed_package_breaks(tmp_path: Path) -> None:
    changed = BASE.replace("package demo.v1;", "package demo.v2;")
    found = breaks(tmp_path, changed)
    assert found[:2] == [
        "package demo.v1: removed or renamed",
        "file demo/v1/demo.proto: package changed from demo.v1 to demo.v2",
    ]
    assert "message demo.v1.Subject: removed" in found


# -- the command line --------------------------------------------------------------------


def test_the_command_line_passes_an_addition_and_fails_a_break(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compile_contract(tmp_path / "protos", BASE)
    baseline = tmp_path / "baseline.binpb"
    args = ["--protos", str(tmp_path / "protos"), "--baseline", str(baseline)]
    assert compat.main([*args, "--update"]) == 0
    assert compat.main(args) == 0

    compile_contract(tmp_path / "protos", BASE.replace("int64 version = 3;", "int64 version = 9;"))
    assert compat.main(args) == 1
    assert "demo.v1.Subject.version (= 3): renumbered to 9" in capsys.readouterr().out


def test_without_a_baseline_the_command_line_says_how_to_make_one(tmp_path: Path) -> None:
    compile_contract(tmp_path / "protos", BASE)
    missing = tmp_path / "none.binpb"
    with pytest.raises(SystemExit, match="--update"):
        compat.main(["--protos", str(tmp_path / "protos"), "--baseline", str(missing)])


def test_the_committed_baseline_holds_the_platforms_contracts() -> None:
    baseline = descriptor_pb2.FileDescriptorSet.FromString(compat.BASELINE.read_bytes())
    packages = {f.package for f in baseline.file}
    assert {"credit.registry.v1", "credit.records.v1", "credit.events.v1"} <= packages


# -- buf ---------------------------------------------------------------------------------


def _buf() -> str:
    for candidate in [ROOT / ".venv" / "buf" / "node_modules" / ".bin" / "buf"]:
        if candidate.exists():
            return str(candidate)
    found = shutil.which("buf")
    if found is None:
        pytest.skip("buf is not installed (make check-proto-compat installs it)")
    return found


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (("  string name = 2;\n", ""), "FIELD_NO_DELETE"),
        (("int64 version = 3;", "int64 version = 7;"), "FIELD_NO_DELETE"),
        (("int64 version = 3;", "string version = 3;"), "FIELD_SAME_TYPE"),
    ],
)
def test_buf_agrees_on_the_breaks(tmp_path: Path, change: tuple[str, str], rule: str) -> None:
    buf = _buf()
    baseline = tmp_path / "baseline.binpb"
    current = tmp_path / "current.binpb"
    baseline.write_bytes(compile_contract(tmp_path / "old", BASE).SerializeToString())
    changed = compile_contract(tmp_path / "new", BASE.replace(*change))
    current.write_bytes(changed.SerializeToString())
    assert any(
        line.startswith(f"buf {rule}:") for line in compat.buf_breaking(buf, baseline, current)
    )
    assert compat.buf_breaking(buf, baseline, baseline) == []
