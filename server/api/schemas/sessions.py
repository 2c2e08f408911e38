"""Recording sessions: the salesperson's API and the customer's join-link API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from inspection.policy import MAX_PRODUCTS, PRODUCT_TYPES
from server.api.schemas.common import (
    BLANK_IS_NONE,
    LINE,
    NOT_BOOL,
    ONLY_BOOL,
    SAFE,
    Body,
    Flag,
    OneOf,
    Out,
)

ProductName = Annotated[str, Field(max_length=128), SAFE, LINE]
Premium = Annotated[float | None, Field(gt=0, lt=1e10), NOT_BOOL, BLANK_IS_NONE]
PaymentYears = Annotated[int | None, Field(ge=1, le=100), NOT_BOOL, BLANK_IS_NONE]
InsuranceYears = Annotated[
    int | None,
    Field(ge=1, le=120, description="empty or null: whole life (终身)"),
    NOT_BOOL,
    BLANK_IS_NONE,
]
TemplateId = Annotated[str, Field(max_length=64), SAFE, LINE]


class ProductBody(Body):
    """One product of a combined sale (主险 first, then 附加险)."""

    product_name: ProductName
    product_type: Annotated[str, SAFE, OneOf(PRODUCT_TYPES)]
    premium: Premium = Field(None, description="yuan per payment")
    payment_method: Annotated[str, Field(max_length=16), SAFE, LINE] = ""
    payment_years: PaymentYears = None
    insurance_years: InsuranceYears = None
    key: Annotated[
        str | None,
        Field(
            max_length=32,
            pattern=r"^[a-z][a-z0-9_]*$",
            description="name of the product in the script (default main, rider1, rider2...)",
        ),
        BLANK_IS_NONE,
    ] = None
    template_id: Annotated[
        # SAFE on the text only: null (or a blank turned into null) never reaches it.
        Annotated[str, Field(max_length=64), SAFE, LINE] | None,
        Field(
            description="built-in template of this product's own script nodes "
            "(default: the session's template_id)",
        ),
        BLANK_IS_NONE,
    ] = None


class NewSessionBody(Body):
    """The sale being recorded. The ID number must also pass the GB 11643 check digit.

    One product: its fields at the top level (product_name, product_type, premium...).
    A combined sale: ``products`` lists every product, the main product (主险) first and
    then the riders (附加险); the top-level product fields are then left out (when given
    they must equal the first product's).
    """

    customer_name: Annotated[str, Field(max_length=64), SAFE, LINE]
    customer_id_number: Annotated[str, Field(max_length=32), SAFE, LINE]
    product_name: ProductName | None = None
    product_type: Annotated[str, SAFE, OneOf(PRODUCT_TYPES)] | None = None
    template_id: TemplateId
    premium: Premium = None
    payment_method: Annotated[str, Field(max_length=16), SAFE, LINE] = ""
    payment_years: PaymentYears = None
    insurance_years: InsuranceYears = None
    cooling_off_days: Annotated[int | None, Field(ge=1, le=365), NOT_BOOL, BLANK_IS_NONE] = None
    products: Annotated[
        list[ProductBody] | None,
        Field(min_length=1, max_length=MAX_PRODUCTS, description="every product, main first"),
    ] = None
    mode: Literal["two_party", "self_service"] = Field(
        default="two_party",
        description="self_service: the customer goes through the script alone (自助双录)",
    )


class OfferBody(Body):
    type: Literal["offer"] = "offer"
    sdp: Annotated[str, Field(min_length=1), SAFE]


class NodeBody(Body):
    node: Annotated[str, Field(min_length=1, max_length=64), SAFE]


class EndBody(Body):
    """Optional. Without ``confirm_missing`` an end is refused (409 ``missing_items``,
    ``details.missing``) while the live checks list required items not done."""

    confirm_missing: Flag = Field(
        default=False, description="end even though required items are missing"
    )


class LiveStateOut(Out):
    """One ``event: live`` of the salesperson's stream (docs/live.md)."""

    status: Literal["starting", "ok", "busy", "off", "ended"]
    notice: str | None = None
    t_s: float | None = None
    current_node: str | None = None
    nodes: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    customer_prompts: list[str] = []
    lag_s: float | None = None
    skipped_audio_s: float | None = None


class CustomerLiveOut(Out):
    """One ``event: live`` of the customer's stream: its own prompts only."""

    status: str | None
    notice: str | None = None
    prompts: list[str] = []


class ConsentBody(Body):
    consent: Annotated[Literal[True], ONLY_BOOL] = Field(description="must be exactly true")


class ScriptNodeOut(Out):
    id: str
    title: str
    speaker: str
    text: str
    requires_answer: bool
    document: str | None
    product: str | None = Field(
        None, description="key of the product this node is about; null: said once for the sale"
    )
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


class ProductEstimateOut(Out):
    key: str
    product_name: str
    estimated_s: float = Field(description="seconds spent on this product's own nodes")


class SessionDetailOut(Out):
    session: SessionOut
    script: list[ScriptNodeOut]
    estimated_s: float
    estimated_products: list[ProductEstimateOut] = Field(
        description="per product, in speaking order; shared nodes are in neither"
    )
    live_checks: bool = False  # the page then opens GET .../live


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


class JoinLinkRevokedOut(Out):
    revoked: Literal[True] = True
    streams_cut: int = Field(description="the customer's live-check streams ended now")


class AnswerOut(Out):
    type: Literal["answer"]
    sdp: str


class StateOut(Out):
    status: str
    current_node: str | None
    connected: dict[str, bool]
    consent_at: str | None = None
    elapsed_s: float | None = Field(
        None,
        description="seconds since the session's media started (server clock); null "
        "before anyone joined and after the end",
    )
    playback: dict[str, Any] | None = Field(
        default=None, description="current or last node playback: node, playing, complete"
    )
    recording_failed: list[str] = Field(
        default_factory=list,
        description="roles whose recording lost media the server could not write (a full "
        "or failing disk) in any segment since the call's room was opened, also after "
        "that participant rejoined: the recording is not complete",
    )
    storage_low: bool = Field(
        default=False,
        description="the sessions directory's filesystem had less than min_free_mb free "
        "when a participant last joined this call: the recording goes on, but the disk "
        "may fill",
    )


class PlaybackOut(Out):
    playback: dict[str, Any]


class JoinInfoOut(Out):
    session_id: str
    status: str
    salesperson: dict[str, Any]
    customer_name: str
    product_name: str
    product_names: list[str] = Field(
        default_factory=list, description="every product of the sale, the main product first"
    )
    consent_at: str | None
    current_node: str | None
    script: list[ScriptNodeOut]
    connected: dict[str, bool]
    mode: str = "two_party"
    live_checks: bool = False  # the page then opens GET .../live


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
