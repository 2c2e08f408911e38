"""Field types every schema shares: safe text, bounded ids and dates, the error body."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Annotated, Any, Literal

from annotated_types import GroupedMetadata
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)

# SQLite and PostgreSQL both store 64-bit signed integers; a larger id can match nothing.
MAX_ID = 2**63 - 1
# Dates outside this range are typos or probes; inside it, date arithmetic cannot overflow.
MIN_DATE = date(1970, 1, 1)
MAX_DATE = date(2199, 12, 31)


def _clean_text(value: str) -> str:
    """Refuse what no store can keep: lone surrogates (not encodable as UTF-8) and NUL
    (PostgreSQL text cannot hold it)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


# Unicode categories that have no place in a name: controls (Cc: line breaks, tabs, ESC),
# invisible format characters (Cf: bidi overrides such as U+202E, zero-width spaces and
# joiners, the BOM), line and paragraph separators (Zl, Zp).
_NOT_IN_A_LINE = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _one_line(value: str) -> str:
    """Refuse text that would not show as what it is on one line: a customer name with a
    right-to-left override displays reversed to the reviewer, one with a zero-width space
    never matches the name read from the ID card, one with a line break or an escape
    sequence splits or colours a log or terminal line."""
    for ch in value:
        if unicodedata.category(ch) in _NOT_IN_A_LINE:
            raise ValueError(
                f"must be one line of visible text (U+{ord(ch):04X} is a control or "
                "invisible formatting character)"
            )
    return value


def _no_bool(value: Any) -> Any:
    """JSON true/false are not numbers here, although Python treats them as 0 and 1."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _blank_is_none(value: Any) -> Any:
    """HTML forms send an empty string for an unfilled optional field."""
    return None if isinstance(value, str) and not value.strip() else value


# Markers to combine in ``Annotated[...]`` (kept as values so mypy sees plain types).
SAFE = AfterValidator(_clean_text)
LINE = AfterValidator(_one_line)  # after SAFE: names, ids, short single-line fields
NOT_BOOL = BeforeValidator(_no_bool)
BLANK_IS_NONE = BeforeValidator(_blank_is_none)


class OneOf(GroupedMetadata):
    """A string field limited to ``values``: checked after the type (so the domain's own
    tuple stays the one source) and published as a JSON-schema enum."""

    def __init__(self, values: Iterable[str]) -> None:
        self.allowed = tuple(values)

    def _check(self, value: str) -> str:
        if value not in self.allowed:
            raise ValueError(f"must be one of {', '.join(self.allowed)}")
        return value

    def __iter__(self) -> Iterator[object]:
        yield AfterValidator(self._check)
        yield WithJsonSchema({"type": "string", "enum": list(self.allowed)})


Id = Annotated[int, Field(ge=1, le=MAX_ID), NOT_BOOL]
Day = Annotated[date, Field(ge=MIN_DATE, le=MAX_DATE)]
OptionalDay = Annotated[Day | None, BLANK_IS_NONE]
ShortText = Annotated[str, Field(max_length=200), SAFE]


class Body(BaseModel):
    """Base of request bodies: unknown fields are ignored (old pages keep working),
    infinities and NaN are refused."""

    model_config = ConfigDict(allow_inf_nan=False, extra="ignore", str_strip_whitespace=False)


class Query(BaseModel):
    """Base of query-string models."""

    model_config = ConfigDict(allow_inf_nan=False, extra="ignore")


class Out(BaseModel):
    """Base of response models (documentation; responses may carry more fields)."""

    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="stable machine-readable code, e.g. invalid_fields")
    message: str = Field(description="a sentence fit to show the user")
    details: dict[str, Any] = Field(
        description="extra facts; validation errors list the fields under 'errors'"
    )


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of the API has this shape."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


class WrongNodeDetails(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node_id: str = Field(description="the media node holding the session's call")
    node_url: str = Field(description="that node's base URL: open the page there and offer again")


class WrongNodeError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Literal["wrong_node"]
    message: str = Field(description="a sentence fit to show the user")
    details: WrongNodeDetails


class WrongNodeBody(BaseModel):
    """409 ``wrong_node``: the session's call is on another media node (several nodes)."""

    model_config = ConfigDict(extra="forbid")

    error: WrongNodeError


class Ok(Out):
    ok: bool = True
