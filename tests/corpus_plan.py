"""A planned corpus session: the policies and templates it uses, the beats on its timeline
(nodes spoken, answers, waits), a clean plan of a template and its layout, and the records a
kind of defect (``tests.corpus_kinds``) and the writer (``tests.corpus_write``) share."""

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inspection.policy import Policy
from inspection.templates import RenderedNode, Template, load_template, render
from tests.corpus_policies import base_policies
from tests.render import RISK_SENTENCE

MINI_TEMPLATE = Path(__file__).parent / "data" / "templates" / "mini.yaml"
TEMPLATE_IDS = ("mini", "traditional_life", "participating_universal", "investment_linked")

# ------------------------------------------------------------------------------------------
# Policies and lines


# (template id, policy key) -> product type and name for that template's sessions.
_PRODUCTS: dict[tuple[str, str], tuple[str, str]] = {
    ("participating_universal", "a"): ("participating", "安康鑫享分红两全保险"),
    ("participating_universal", "b"): ("universal", "恒信智盈万能型终身寿险"),
    ("investment_linked", "a"): ("investment_linked", "安康优选投资连结保险"),
    ("investment_linked", "b"): ("investment_linked", "恒信优选投资连结保险"),
}


def policy_for(template_id: str, key: str) -> Policy:
    """Policy ``key`` ("a" or "b") adapted to the product types of ``template_id``."""
    policy = base_policies()[key]
    if (template_id, key) in _PRODUCTS:
        ptype, pname = _PRODUCTS[(template_id, key)]
        policy = dataclasses.replace(policy, product_type=ptype, product_name=pname)
    return policy


def get_template(template_id: str) -> Template:
    return load_template(MINI_TEMPLATE if template_id == "mini" else template_id)


CONSENT_ANSWERS = ("是的，我同意", "好的，我同意")
AFFIRMATIVE_ANSWERS = ("好的，我清楚了", "明白，没问题", "是的，我清楚")
ID_ANSWERS = ("是的，是我本人", "明白，没问题")
NEGATIVE_ANSWERS = ("我不清楚", "没听懂", "不同意")


def _answer_pool(node: RenderedNode) -> tuple[str, ...]:
    if node.role == "consent":
        return CONSENT_ANSWERS
    if node.document == "id_card":
        return ID_ANSWERS
    return AFFIRMATIVE_ANSWERS


# ------------------------------------------------------------------------------------------
# Plans


@dataclass
class Beat:
    """One thing that happens on the timeline: a clip spoken, or a silent wait."""

    kind: str  # "node" | "answer" | "extra" | "wait"
    speaker: str | None  # "salesperson" | "customer" | None for a wait
    text: str | None
    node: str | None
    pause_s: float = 0.7  # silence before the beat
    wait_s: float = 0.0  # length of a wait beat
    start_s: float = 0.0  # set by layout()
    end_s: float = 0.0


@dataclass
class Plan:
    """Everything that will be rendered for one session, before layout."""

    template: Template
    policy: Policy
    nodes: list[RenderedNode]
    beats: list[Beat]
    rng: np.random.Generator
    salesperson_face: str
    customer_face: str
    card: dict[str, Any] | None  # {"name", "id_number", "face"}; None: never shown
    page: dict[str, Any] | None  # {"sentence", "signature"}; None: never shown
    spare_faces: list[str]
    extra_person: list[tuple[str, str, str]] = field(default_factory=list)  # (who, node, face)
    absent: list[tuple[str, str]] = field(default_factory=list)  # (who, node)
    dark: list[tuple[str, str, str, float]] = field(default_factory=list)  # who, from, to, gain
    audio_fx: dict[str, dict[str, Any]] = field(default_factory=dict)
    gap: tuple[str, str, float] | None = None  # (who, node, seconds)
    node_events: bool = True
    video_codec: str = "libvpx"

    def node_beat(self, node_id: str) -> Beat:
        return next(b for b in self.beats if b.kind == "node" and b.node == node_id)

    def node_index(self, node_id: str) -> int:
        return next(i for i, b in enumerate(self.beats) if b.kind == "node" and b.node == node_id)

    def last_index(self, node_id: str) -> int:
        """Index of the last beat belonging to ``node_id`` (its speech, answer, waits)."""
        return max(i for i, b in enumerate(self.beats) if b.node == node_id)

    def insert_wait(self, node_id: str, seconds: float, *, before_node: bool = False) -> None:
        i = self.node_index(node_id) if before_node else self.last_index(node_id) + 1
        self.beats.insert(i, Beat("wait", None, None, node_id, pause_s=0.0, wait_s=seconds))

    def node_ids(self, *, speaker: str = "salesperson") -> list[str]:
        return [n.id for n in self.nodes if n.speaker == speaker]


DOCUMENT_HOLD_S = {"id_card": 5.0, "signature": 7.0}


def base_plan(template_id: str, key: str, seed: int) -> Plan:
    """A clean session: every node spoken in order, affirmative answers, documents shown."""
    rng = np.random.default_rng(seed)
    template = get_template(template_id)
    policy = policy_for(template_id, key)
    nodes = render(template, policy)
    beats: list[Beat] = []
    for node in nodes:
        beats.append(Beat("node", node.speaker, node.text, node.id, float(rng.uniform(0.6, 1.1))))
        if node.requires_answer:
            answer = str(rng.choice(_answer_pool(node)))
            beats.append(Beat("answer", "customer", answer, node.id, float(rng.uniform(0.5, 0.9))))
        if node.document:
            hold = DOCUMENT_HOLD_S[node.document]
            beats.append(Beat("wait", None, None, node.id, pause_s=0.0, wait_s=hold))
    customers = ["astronaut-portrait.jpg", "t1-a.jpg", "t1-d.jpg", "t1-f.jpg"]
    salespeople = ["t1-c.jpg", "t1-e.jpg", "camera.jpg", "t1-b.jpg"]
    customer = customers[int(rng.integers(len(customers)))]
    salesperson = salespeople[int(rng.integers(len(salespeople)))]
    spare = [f for f in customers + salespeople if f not in (customer, salesperson)]
    return Plan(
        template=template,
        policy=policy,
        nodes=nodes,
        beats=beats,
        rng=rng,
        salesperson_face=salesperson,
        customer_face=customer,
        card=id_card_of(policy, customer),
        page=signed_page_of(template, policy),
        spare_faces=spare,
        node_events=bool(rng.integers(2)),
    )


def layout(plan: Plan, lead_in_s: float = 1.5, tail_s: float = 2.0) -> float:
    """Assign start/end times to every beat; returns the session duration in seconds."""
    from tests.corpus_media import clip_duration

    t = lead_in_s
    for beat in plan.beats:
        beat.start_s = t + beat.pause_s
        length = beat.wait_s if beat.text is None else clip_duration(beat.text)
        beat.end_s = beat.start_s + length
        t = beat.end_s
    return t + tail_s


def lines(plan: Plan) -> list[str]:
    """Every text this plan speaks (for TTS synthesis)."""
    return [b.text for b in plan.beats if b.text is not None]


Expected = list[dict[str, Any]]


def finding(code: str, node: str | None = None, participant: str | None = None) -> dict[str, Any]:
    """One finding a plan must produce (``code`` at ``node`` of ``participant``)."""
    return {"code": code, "node": node, "participant": participant}


def id_card_of(policy: Policy, face: str) -> dict[str, Any]:
    """The customer's own ID card, as a plan shows it."""
    return {"name": policy.customer_name, "id_number": policy.customer_id_number, "face": face}


def signed_page_of(template: Template, policy: Policy) -> dict[str, Any]:
    """The page the customer copies the template's risk sentence onto and signs."""
    return {"sentence": template.risk_sentence or RISK_SENTENCE, "signature": policy.customer_name}


@dataclass(frozen=True)
class SessionSpec:
    """One session of the corpus: which template, policy and kind, and its seed."""

    session_id: str
    kind: str
    template_id: str = "mini"
    policy_key: str = "a"
    seed: int = 0
    video_codec: str | None = None  # None: chosen by the seed (mostly VP8)
