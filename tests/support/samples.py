"""The departments' sample files in shared/data/samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "samples"
if not SAMPLES.exists():  # CI clones main beside a copy of shared/
    SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "samples"


def subjects() -> list[dict[str, Any]]:
    with (SAMPLES / "subjects.ndjson").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
