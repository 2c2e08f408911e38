"""ID numbers masked inside free text (transcripts, OCR, messages) before a reviewer or a
salesperson sees it."""

from __future__ import annotations

import re
from typing import Any

from inspection.idnumber import mask_id

# An ID number (18 or 15 digits) anywhere in free text: transcripts, OCR, messages.
_ID_IN_TEXT = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9Xx])")


def mask_text(text: str) -> str:
    """Replace every ID number inside ``text`` by its masked form."""
    return _ID_IN_TEXT.sub(lambda m: mask_id(m.group(0)), text)


def mask_deep(value: Any) -> Any:
    """``mask_text`` over every string in a JSON-like structure."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [mask_deep(v) for v in value]
    if isinstance(value, dict):
        return {k: mask_deep(v) for k, v in value.items()}
    return value
