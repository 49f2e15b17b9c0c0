"""Generates the Python stubs (with type stubs) from protos/ into libs/protos/.

With --check, generates into a temporary folder and fails if anything differs from what
is committed: generated files are never edited by hand.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "libs" / "protos"


def generate(out: Path) -> None:
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    include = Path(grpc_tools.__file__).parent / "_proto"
    plugin = Path(sys.executable).parent / "protoc-gen-mypy_grpc"
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        f"--plugin=protoc-gen-mypy_grpc={plugin}",
        f"--mypy_grpc_out={out}",
        *sources,
    ]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    for folder in [out / "credit", *[p for p in (out / "credit").rglob("*") if p.is_dir()]]:
        (folder / "__init__.py").touch()


def compare(expected: Path, actual: Path) -> list[str]:
    diffs: list[str] = []
    exp = {p.relative_to(expected) for p in expected.rglob("*") if p.is_file()}
    act = {
        p.relative_to(actual)
        for p in actual.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    diffs += [f"missing: {p}" for p in sorted(exp - act)]
    diffs += [f"extra: {p}" for p in sorted(act - exp)]
    diffs += [
        f"differs: {p}"
        for p in sorted(exp & act)
        if not filecmp.cmp(expected / p, actual / p, shallow=False)
    ]
    return diffs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        if args.check:
            diffs = compare(Path(tmp) / "credit", OUT / "credit")
            if diffs:
                print("generated stubs are stale; run `make protos`:", *diffs, sep="\n  ")
                sys.exit(1)
            print("generated stubs are up to date")
            return
        shutil.rmtree(OUT / "credit", ignore_errors=True)
        shutil.copytree(Path(tmp) / "credit", OUT / "credit")
        print(f"generated into {OUT / 'credit'}")


if __name__ == "__main__":
    main()
