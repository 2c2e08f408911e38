"""Recording sessions: the salesperson's API and the customer's join-link API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from inspection.policy import PRODUCT_TYPES
from server.api.schemas.common import BLANK_IS_NONE, NOT_BOOL, SAFE, Body, OneOf, Out


class NewSessionBody(Body):
    """The sale being recorded. The ID number must also pass the GB 11643 check digit."""

    customer_name: Annotated[str, Field(max_length=64), SAFE]
    customer_id_number: Annotated[str, Field(max_length=32), SAFE]
    product_name: Annotated[str, Field(max_length=128), SAFE]
    product_type: Annotated[str, SAFE, OneOf(PRODUCT_TYPES)]
    template_id: Annotated[str, Field(max_length=64), SAFE]
    premium: Annotated[float | None, Field(gt=0, lt=1e10), NOT_BOOL, BLANK_IS_NONE] = None
    payment_method: Annotated[str, Field(max_length=16), SAFE] = ""
    payment_years: Annotated[int | None, Field(ge=1, le=100), NOT_BOOL, BLANK_IS_NONE] = None
    insurance_years: Annotated[int | None, Field(ge=1, le=120), NOT_BOOL, BLANK_IS_NONE] = None
    cooling_off_days: Annotated[int | None, Field(ge=1, le=365), NOT_BOOL, BLANK_IS_NONE] = None
    mode: Literal["two_party", "self_service"] = Field(
        default="two_party",
        description="self_service: the customer goes through the script alone (自助双录)",
    )


class OfferBody(Body):
    type: Literal["offer"] = "offer"
    sdp: Annotated[str, Field(min_length=1), SAFE]


class NodeBody(Body):
    node: Annotated[str, Field(min_length=1, max_length=64), SAFE]


class ConsentBody(Body):
    consent: Literal[True] = Field(description="must be exactly true")


class ScriptNodeOut(Out):
    id: str
    title: str
    speaker: str
    text: str
    requires_answer: bool
    document: str | None
    playback: bool = Field(default=False, description="the node is played from recorded audio")
    expected_answer: str | None = None


class SessionOut(Out):
    """A session as the API shows it; the customer's ID number is always masked."""

    id: str
    status: Literal["created", "live", "interrupted", "ended"]
    customer_name: str
    customer_id_number: str
    product_name: str
    product_type: str
    template_id: str
    policy: dict[str, Any]
    current_node: str | None
    consent_at: str | None
    created_at: str | None
    started_at: str | None
    ended_at: str | None
    inspection_status: str | None
    verdict: str | None
    finding_count: int | None
    review_status: str | None
    retain_until: str | None
    rerecord_of: str | None
    connected: dict[str, bool]


class SessionEnvelope(Out):
    session: SessionOut


class SessionListOut(Out):
    sessions: list[SessionOut]


class SessionDetailOut(Out):
    session: SessionOut
    script: list[ScriptNodeOut]
    estimated_s: float


class TemplateOut(Out):
    id: str
    title: str
    version: str | int
    product_types: list[str]


class TemplatesOut(Out):
    templates: list[TemplateOut]


class JoinLinkOut(Out):
    url: str
    token: str
    qr_svg: str
    expires_at: int = Field(description="Unix seconds")


class AnswerOut(Out):
    type: Literal["answer"]
    sdp: str


class StateOut(Out):
    status: str
    current_node: str | None
    connected: dict[str, bool]
    consent_at: str | None = None
    playback: dict[str, Any] | None = Field(
        default=None, description="current or last node playback: node, playing, complete"
    )


class PlaybackOut(Out):
    playback: dict[str, Any]


class JoinInfoOut(Out):
    session_id: str
    status: str
    salesperson: dict[str, Any]
    customer_name: str
    product_name: str
    consent_at: str | None
    current_node: str | None
    script: list[ScriptNodeOut]
    connected: dict[str, bool]
    mode: str = "two_party"


class AnswerBody(Body):
    node: Annotated[str, Field(min_length=1, max_length=64), SAFE]
    attempt: Annotated[int, Field(ge=1, le=20), NOT_BOOL] = 1


class DocumentBody(Body):
    node: Annotated[str, Field(min_length=1, max_length=64), SAFE]
    image: Annotated[
        str, Field(min_length=1, max_length=240_000, description="JPEG as a data: URL"), SAFE
    ]


class HeardAnswerOut(Out):
    kind: Literal["affirmative", "negative", "unsure", "missing"]
    text: str
    attempt: int
    retry: bool
    review: bool


class DocumentOut(Out):
    kind: str
    ok: bool


class SummaryOut(Out):
    nodes: list[dict[str, Any]]
    status: str


class ConsentOut(Out):
    consent_at: str | None
