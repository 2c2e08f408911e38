"""The script template format (``kesu.template/1``, docs/templates.md): a template and its
nodes as written, a node rendered for one policy, the problems a template can have, and the
placeholders a text may use."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from inspection.policy import PRODUCT_TYPES, Policy

SCHEMA = "kesu.template/1"

Speaker = Literal["salesperson", "customer"]
Document = Literal["id_card", "signature"]
Role = Literal["consent", "reminder"]

SPEAKERS: tuple[str, ...] = ("salesperson", "customer")
DOCUMENTS: tuple[str, ...] = ("id_card", "signature")
ROLES: tuple[str, ...] = ("consent", "reminder")

#: A complete policy used for duration estimates and placeholder validation when none is given.
SAMPLE_POLICY = Policy(
    customer_name="张三",
    customer_id_number="11010519491231002X",
    product_name="安康终身寿险",
    product_type="traditional",
    salesperson_name="李四",
    institution="平安人寿",
    premium=12000,
    payment_method="年交",
    payment_years=10,
    insurance_years=20,
    cooling_off_days=15,
)

#: Every ``{name}`` a template may use (the keys of ``Policy.placeholders()``).
PLACEHOLDERS: frozenset[str] = frozenset(SAMPLE_POLICY.placeholders())

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class TemplateNode:
    """One step of the script, as written in the template (text still has ``{placeholders}``)."""

    id: str
    title: str
    speaker: Speaker
    text: str
    role: Role | None = None  # "consent" -> consent.missing, "reminder" -> reminder.missing
    requires_answer: bool = False  # the customer must answer affirmatively after it
    expected_answer: str | None = None  # hint for the answer check, e.g. "同意", "清楚"
    order_critical: bool = False  # must come before every non-critical node
    product_types: tuple[str, ...] = ()  # empty = applies to every product type
    document: Document | None = None  # document that must be shown during this node
    min_similarity: float | None = None  # overrides the threshold for this node
    required: bool = True  # False: covered if spoken, never reported missing
    line: int | None = None  # line of the node in its YAML file
    category: str | None = None  # what the node is about (template_order.CATEGORIES)
    precede_category: str | None = None  # must_precede: <category>
    precede_nodes: tuple[str, ...] = ()  # must_precede: [node ids]
    # each | main | riders: said once per product it applies to (template_compose); None: shared
    product: str | None = None
    playback: str | None = None  # audio file played for this node (absolute path once loaded)

    def applies_to(self, product_type: str) -> bool:
        return not self.product_types or product_type in self.product_types


@dataclass(frozen=True)
class Template:
    """A parsed, validated script template."""

    id: str
    version: int
    title: str
    nodes: tuple[TemplateNode, ...]
    product_types: tuple[str, ...] = PRODUCT_TYPES
    description: str = ""
    speaking_rate: float = 4.2  # Chinese characters per second
    answer_pause_s: float = 3.0  # time for a customer answer after a question
    document_pause_s: float = 10.0  # time to hold up a document to the camera
    risk_sentence: str | None = None  # expected hand-copied risk sentence (R13)
    forbidden_phrases: tuple[str, ...] = ()
    source: str | None = None  # file path or "builtin:<id>"

    def node(self, node_id: str) -> TemplateNode:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)


@dataclass(frozen=True)
class RenderedNode:
    """A template node filled with one policy's data, ready for alignment and checks."""

    index: int  # position among the rendered nodes
    id: str
    title: str
    speaker: Speaker
    text: str  # placeholders filled
    role: Role | None
    requires_answer: bool
    expected_answer: str | None
    order_critical: bool
    document: Document | None
    min_similarity: float | None
    required: bool
    values: dict[str, str] = field(default_factory=dict)  # placeholders used -> their values
    category: str | None = None
    # Rendered node ids this node must start before (order_critical, or must_precede).
    must_precede: tuple[str, ...] = ()
    # Key of the product whose values fill this node (Policy.products); None: a shared node.
    product: str | None = None
    playback: str | None = None  # audio file played for this node (inspection/playback.py)


@dataclass(frozen=True)
class TemplateIssue:
    line: int | None
    where: str  # e.g. "nodes[3].speaker"
    message: str

    def __str__(self) -> str:
        loc = f"line {self.line}: " if self.line else ""
        where = f"{self.where}: " if self.where else ""
        return f"{loc}{where}{self.message}"


class TemplateError(ValueError):
    """A template could not be loaded; ``issues`` lists every problem with its line number."""

    def __init__(self, source: str, issues: list[TemplateIssue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__(self._format())

    def _format(self) -> str:
        if len(self.issues) == 1:
            return f"{self.source}: {self.issues[0]}"
        lines = [f"{self.source}: {len(self.issues)} problems"]
        lines += [f"  {i}" for i in self.issues]
        return "\n".join(lines)


def placeholder_names(text: str) -> Iterator[str]:
    """The ``{name}`` placeholders of ``text``; ValueError for anything but a plain name."""
    for _literal, name, spec, conv in string.Formatter().parse(text):
        if name is None:
            continue
        if spec or conv or not name.isidentifier():
            raise ValueError(
                f"use plain {{name}}, not {{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}"
            )
        yield name
