"""Field types every schema shares: safe text, bounded ids and dates, the error body."""

from __future__ import annotations

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

from server.text_rules import line_problem, prose_problem, text_problem

# SQLite and PostgreSQL both store 64-bit signed integers; a larger id can match nothing.
MAX_ID = 2**63 - 1
# Dates outside this range are typos or probes; inside it, date arithmetic cannot overflow.
MIN_DATE = date(1970, 1, 1)
MAX_DATE = date(2199, 12, 31)


def _clean_text(value: str) -> str:
    if (problem := text_problem(value)) is not None:
        raise ValueError(problem)
    return value


def _one_line(value: str) -> str:
    if (problem := line_problem(value)) is not None:
        raise ValueError(problem)
    return value


def _prose(value: str) -> str:
    if (problem := prose_problem(value)) is not None:
        raise ValueError(problem)
    return value


def _no_bool(value: Any) -> Any:
    """JSON true/false are not numbers here, although Python treats them as 0 and 1."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _only_bool(value: Any) -> Any:
    """JSON true/false only: a ``Literal[True]`` alone takes 1 and 1.0 too (1 == True), and
    a ``bool`` in pydantic's lax mode "no", 0, 1, "1", "true", "off"..."""
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _blank_is_none(value: Any) -> Any:
    """HTML forms send an empty string for an unfilled optional field."""
    return None if isinstance(value, str) and not value.strip() else value


# Markers to combine in ``Annotated[...]`` (kept as values so mypy sees plain types).
SAFE = AfterValidator(_clean_text)
LINE = AfterValidator(_one_line)  # after SAFE: names, ids, short single-line fields
PROSE = AfterValidator(_prose)  # after SAFE: free text of several lines (comments, reasons)
NOT_BOOL = BeforeValidator(_no_bool)
ONLY_BOOL = BeforeValidator(_only_bool)
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
# Every yes/no field of a request body: {"hold": "no"} must not lift a legal hold.
Flag = Annotated[bool, ONLY_BOOL]
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
