"""Recording sessions: the salesperson's API and the customer's join-link API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from inspection.policy import MAX_PRODUCTS, PRODUCT_TYPES
from server.api.schemas.common import BLANK_IS_NONE, NOT_BOOL, SAFE, Body, OneOf, Out

ProductName = Annotated[str, Field(max_length=128), SAFE]
Premium = Annotated[float | None, Field(gt=0, lt=1e10), NOT_BOOL, BLANK_IS_NONE]
PaymentYears = Annotated[int | None, Field(ge=1, le=100), NOT_BOOL, BLANK_IS_NONE]
InsuranceYears = Annotated[
    int | None,
    Field(ge=1, le=120, description="empty or null: whole life (终身)"),
    NOT_BOOL,
    BLANK_IS_NONE,
]
TemplateId = Annotated[str, Field(max_length=64), SAFE]


class ProductBody(Body):
    """One product of a combined sale (主险 first, then 附加险)."""

    product_name: ProductName
    product_type: Annotated[str, SAFE, OneOf(PRODUCT_TYPES)]
    premium: Premium = Field(None, description="yuan per payment")
    payment_method: Annotated[str, Field(max_length=16), SAFE] = ""
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
        Annotated[str, Field(max_length=64), SAFE] | None,
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

    customer_name: Annotated[str, Field(max_length=64), SAFE]
    customer_id_number: Annotated[str, Field(max_length=32), SAFE]
    product_name: ProductName | None = None
    product_type: Annotated[str, SAFE, OneOf(PRODUCT_TYPES)] | None = None
    template_id: TemplateId
    premium: Premium = None
    payment_method: Annotated[str, Field(max_length=16), SAFE] = ""
    payment_years: PaymentYears = None
    insurance_years: InsuranceYears = None
    cooling_off_days: Annotated[int | None, Field(ge=1, le=365), NOT_BOOL, BLANK_IS_NONE] = None
    products: Annotated[
        list[ProductBody] | None,
        Field(min_length=1, max_length=MAX_PRODUCTS, description="every product, main first"),
    ] = None


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
    product: str | None = Field(
        None, description="key of the product this node is about; null: said once for the sale"
    )


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


class ConsentOut(Out):
    consent_at: str | None
