"""Large JSON answers (10,000-item batches) rendered by orjson: the standard encoder took
about 90 ms for a 7 MB restriction check, orjson about 7 ms, with the same bytes."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class BatchJSON(JSONResponse):
    """A JSONResponse whose body orjson writes (compact, UTF-8, no NaN)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
