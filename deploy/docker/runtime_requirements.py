"""Prints the runtime requirements of the platform: pyproject's dependencies plus extras.

Used inside the image builds (`pip install -c requirements.lock -r <output>`), so that an
image gets the pinned runtime libraries and none of the development tools in the lock.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def runtime_requirements(pyproject: Path, extras: list[str]) -> list[str]:
    with pyproject.open("rb") as f:
        dependencies: list[str] = tomllib.load(f)["project"]["dependencies"]
    return [*dependencies, *extras]


if __name__ == "__main__":
    print("\n".join(runtime_requirements(Path("pyproject.toml"), sys.argv[1:])))
