"""Plans of v2 sessions: paraphrased lines, fillers, questions back, answers from a grammar,
and the kinds of defect, each returning the findings a correct inspection reports.

Reuses the v1 timeline types (``tests.corpus_plan.Beat``/``Plan``); what v2 adds lives in
:class:`Variation` (voices, rooms, networks, form layout, card pose, paraphrase choices).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inspection.templates import load_template, render
from tests.corpus_plan import Beat, Plan, finding, id_card_of, signed_page_of
from tests.corpus_v2.acoustics import PRESETS, Network, Room, Voice
from tests.corpus_v2.documents import LAYOUTS, POSES, CardPose, FormLayout
from tests.corpus_v2.wording import WORDINGS, Wording

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "data" / "templates"
SPLITS = ("dev", "test")
DOCUMENT_HOLD_S = {"id_card": (5.0, 7.0), "signature": (7.0, 9.0)}
FACES = {  # (customers, salespeople) per split
    "dev": (("astronaut-portrait.jpg", "t1-a.jpg"), ("t1-c.jpg", "camera.jpg")),
    "test": (("t1-d.jpg", "t1-f.jpg"), ("t1-e.jpg", "t1-b.jpg")),
}
OTHER_NAMES = {"dev": "王建国", "test": "周立新"}
RISK_ALTERED = {
    "dev": "本人已阅读保险条款，确认本产品收益稳定，没有任何风险",
    "test": "本人已了解本产品保证收益，到期返还全部本金和利息",
}


@dataclass
class Variation:
    """The v2 dimensions of one session (recorded in labels.json["variation"])."""

    split: str
    wording: Wording
    voices: dict[str, Voice]
    rooms: dict[str, Room]
    networks: dict[str, Network]
    form: FormLayout
    pose: CardPose
    variants: dict[str, int] = field(default_factory=dict)  # node id -> paraphrase index
    questions_back: int = 0
    fillers: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "template_file": self.wording.template_file,
            "voices": {k: v.name for k, v in self.voices.items()},
            "rooms": {k: v.name for k, v in self.rooms.items()},
            "networks": {k: v.name for k, v in self.networks.items()},
            "form_layout": self.form.name,
            "card_pose": self.pose.name,
            "paraphrase_variants": self.variants,
            "questions_back": self.questions_back,
            "fillers": self.fillers,
        }


def _pick(rng: np.random.Generator, items: tuple[Any, ...]) -> Any:
    return items[int(rng.integers(len(items)))]


def base_plan(split: str, key: str, seed: int, *, questions: bool = True) -> tuple[Plan, Variation]:
    """A compliant session of ``split``: paraphrases, fillers, questions back, affirmations."""
    rng = np.random.default_rng(seed)
    w = WORDINGS[split]
    template = load_template(TEMPLATES_DIR / w.template_file)
    policy = w.policies[key]
    nodes = render(template, policy)
    pre = PRESETS[split]
    voices = dict(
        zip(("salesperson", "customer"), rng.permutation(len(pre.voices))[:2], strict=True)
    )
    var = Variation(
        split=split,
        wording=w,
        voices={k: pre.voices[int(i)] for k, i in voices.items()},
        rooms={k: _pick(rng, pre.rooms) for k in ("salesperson", "customer")},
        networks={k: _pick(rng, pre.networks) for k in ("salesperson", "customer")},
        form=_pick(rng, LAYOUTS[split]),
        pose=_pick(rng, POSES[split]),
    )
    values = policy.placeholders()
    g = w.grammar
    beats: list[Beat] = []
    if rng.random() < 0.6:
        greeting = _pick(rng, w.greetings).format(**values)
        beats.append(Beat("extra", "salesperson", greeting, None, float(rng.uniform(0.4, 0.9))))
    for node in nodes:
        if not node.required and rng.random() < 0.3:
            continue  # an optional closing left out: no finding
        if rng.random() < 0.25:
            filler = _pick(rng, w.fillers)
            beats.append(
                Beat("filler", "salesperson", filler, node.id, float(rng.uniform(0.5, 1.0)))
            )
            var.fillers += 1
        variant = int(rng.integers(len(w.spoken[node.id])))
        var.variants[node.id] = variant
        text = w.say(node.id, variant, policy)
        beats.append(Beat("node", node.speaker, text, node.id, float(rng.uniform(0.5, 1.2))))
        if node.requires_answer:
            if node.role == "consent":
                pool = g.expand("consent")
            elif node.document == "id_card":
                pool = g.expand("identity")
            else:
                pool = g.expand("understood")
                if questions and rng.random() < 0.5:
                    q, reply = _pick(rng, w.questions_back)
                    beats += question_back(
                        var,
                        node.id,
                        q,
                        reply.format(**values),
                        float(rng.uniform(0.7, 1.6)),
                        float(rng.uniform(0.4, 0.9)),
                    )
            beats.append(
                Beat("answer", "customer", _pick(rng, pool), node.id, float(rng.uniform(0.6, 1.8)))
            )
        if node.document:
            lo, hi = DOCUMENT_HOLD_S[node.document]
            beats.append(
                Beat("wait", None, None, node.id, pause_s=0.0, wait_s=float(rng.uniform(lo, hi)))
            )
    customers, salespeople = FACES[split]
    customer, salesperson = _pick(rng, customers), _pick(rng, salespeople)
    spare = [f for f in customers if f != customer] + [
        "t1-a.jpg" if split == "test" else "t1-f.jpg"
    ]
    plan = Plan(
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
        node_events=bool(rng.random() < 0.7),
        video_codec="libx264",
    )
    return plan, var


# ------------------------------------------------------------------------------------------
# Kinds

Expected = list[dict[str, Any]]
Kind = Callable[[Plan, Variation], Expected]


def question_back(
    var: Variation, node: str, question: str, reply: str, ask_pause: float, reply_pause: float
) -> list[Beat]:
    """The customer asks ``question`` during ``node`` and the salesperson answers (counted)."""
    var.questions_back += 1
    return [
        Beat("question", "customer", question, node, ask_pause),
        Beat("reply", "salesperson", reply, node, reply_pause),
    ]


def _answer(plan: Plan, node_id: str) -> Beat:
    return next(b for b in plan.beats if b.kind == "answer" and b.node == node_id)


def k_clean(plan: Plan, var: Variation) -> Expected:
    return []


def k_hedged_answer(plan: Plan, var: Variation) -> Expected:
    node = var.wording.node("understood")
    _answer(plan, node).text = _pick(plan.rng, var.wording.grammar.expand("hedges"))
    return [finding("answer.not_affirmative", node, "customer")]


def k_consent_refused(plan: Plan, var: Variation) -> Expected:
    node = var.wording.node("consent")
    pool = var.wording.grammar.expand("refusals") + var.wording.grammar.expand("hedges")
    _answer(plan, node).text = _pick(plan.rng, pool)
    return [finding("consent.missing", node), finding("answer.not_affirmative", node, "customer")]


def _wrong(role: str, field_name: str) -> Kind:
    def kind(plan: Plan, var: Variation) -> Expected:
        node = var.wording.node(role)
        wrong = var.wording.wrong_policy(plan.policy, field_name)
        beat = next(b for b in plan.beats if b.kind == "node" and b.node == node)
        beat.text = var.wording.say(node, 0, wrong)  # only paraphrase 0 has wrong-number clips
        var.variants[node] = 0
        return [finding("speech.number_mismatch", node, "salesperson")]

    return kind


def k_node_missing(plan: Plan, var: Variation) -> Expected:
    node = var.wording.node("skippable")
    plan.beats = [b for b in plan.beats if b.node != node]
    return [finding("script.node_missing", node, "salesperson")]


def k_reminder_missing(plan: Plan, var: Variation) -> Expected:
    node = var.wording.node("reminder")
    plan.beats = [b for b in plan.beats if b.node != node]
    return [finding("reminder.missing", node)]


def k_forbidden(plan: Plan, var: Variation) -> Expected:
    node = var.wording.node("after_product")
    i = max(i for i, b in enumerate(plan.beats) if b.node == node) + 1
    text = _pick(plan.rng, var.wording.forbidden)
    plan.beats.insert(i, Beat("extra", "salesperson", text, node, pause_s=0.8))
    return [finding("speech.forbidden_phrase", node, "salesperson")]


def _card(change: str) -> Kind:
    def kind(plan: Plan, var: Variation) -> Expected:
        assert plan.card is not None
        node = var.wording.node("id_card")
        if change == "name":
            plan.card["name"] = OTHER_NAMES[var.split]
            return [finding("document.id_card_mismatch", node, "customer")]
        plan.card["face"] = plan.spare_faces[-1]
        return [finding("face.identity_mismatch", node, "customer")]

    return kind


def _page(change: str) -> Kind:
    def kind(plan: Plan, var: Variation) -> Expected:
        node = var.wording.node("signature")
        if change == "missing":
            plan.page = None
            return [
                finding("document.signature_missing", node, "customer"),
                finding("document.risk_sentence_missing", node, "customer"),
            ]
        assert plan.page is not None
        if change == "signature":
            plan.page["signature"] = OTHER_NAMES[var.split]
            return [finding("document.signature_mismatch", node, "customer")]
        plan.page["sentence"] = RISK_ALTERED[var.split]
        return [finding("document.risk_sentence_mismatch", node, "customer")]

    return kind


def _combined(wrong_rider_premium: bool) -> Kind:
    def kind(plan: Plan, var: Variation) -> Expected:
        from tests.corpus_v2.combined import make_combined  # it builds on this module

        return make_combined(plan, var, wrong_rider_premium=wrong_rider_premium)

    return kind


#: kind -> (change, description, questions back allowed)
KINDS: dict[str, tuple[Kind, str, bool]] = {
    "clean": (k_clean, "compliant: paraphrased lines, fillers, questions back, affirmations", True),
    "hedged_answer": (
        k_hedged_answer,
        "the customer hedges (不太清楚/没太听明白 ...) when asked",
        True,
    ),
    "consent_refused": (
        k_consent_refused,
        "the customer refuses or hedges on recording consent",
        True,
    ),
    "wrong_premium": (
        _wrong("premium", "premium"),
        "the spoken premium differs from the policy",
        False,
    ),
    "wrong_days": (
        _wrong("cooling_off", "cooling_off_days"),
        "the spoken cooling-off period is wrong",
        False,
    ),
    "node_missing": (k_node_missing, "the surrender-loss node is skipped", True),
    "reminder_missing": (k_reminder_missing, "the rights reminder is not read", True),
    "forbidden": (k_forbidden, "the salesperson adds a forbidden promise", True),
    "id_card_wrong_name": (_card("name"), "the ID card carries another name", True),
    "identity_mismatch": (_card("face"), "the ID card shows another person's photo", True),
    "signature_mismatch": (_page("signature"), "the form is signed with another name", True),
    "risk_sentence_altered": (_page("sentence"), "another sentence is copied on the form", True),
    "page_missing": (_page("missing"), "the signed form is never shown", True),
    "combined_clean": (
        _combined(False),
        "compliant 15-20 min combined sale (main + rider): explanations, worked examples, "
        "questions back, reading pauses, sparse customer speech",
        True,
    ),
    "combined_rider_premium": (
        _combined(True),
        "15-20 min combined sale where the rider's premium is misstated",
        True,
    ),
}
#: kinds whose sessions expect no finding
CLEAN_KINDS = ("clean", "combined_clean")
