"""Kinds of corpus session: each changes a clean plan (``tests.corpus_plan``) and returns
the findings a correct inspection reports (``KINDS``)."""

import dataclasses
from collections.abc import Callable
from datetime import date
from typing import Any

from inspection.idnumber import make_id
from inspection.templates import render
from tests.corpus_plan import Beat, Expected, Plan, finding, get_template, policy_for
from tests.corpus_policies import base_policies

FORBIDDEN_LINES = ("这个产品保本保息，稳赚不赔。", "现在不买的话，下个月就停售了。")
# Shortened reminders, per template (the mini template's reminder is itself short).
SHORT_REMINDERS = {
    "mini": "录音录像很关键，请您回答问题。",
    "builtin": "此次录音录像过程非常关键，请您如实回答。",
}
OTHER_NAME = "王建国"
OTHER_ID = make_id(date(1975, 3, 8), "440106", 531)
RISK_MISMATCHES = (
    "本人已阅读保险条款，确认本产品收益稳定，没有任何风险",
    "本人已阅读保险条款、产品说明书",
)


def wrong_number_text(template_id: str, key: str, node_id: str, **changes: Any) -> str:
    """The text of ``node_id`` rendered with policy fields changed (a wrong premium, days...)."""
    policy = dataclasses.replace(policy_for(template_id, key), **changes)
    return next(n.text for n in render(get_template(template_id), policy) if n.id == node_id)


def _builtin(plan: Plan) -> bool:
    return plan.template.id != "mini"


def _drop_node(plan: Plan, node_id: str) -> None:
    plan.beats = [b for b in plan.beats if b.node != node_id]


def _set_answer(plan: Plan, node_id: str, text: str | None) -> None:
    """Replace the customer's answer to ``node_id``; None = the customer says nothing."""
    i = next(i for i, b in enumerate(plan.beats) if b.kind == "answer" and b.node == node_id)
    if text is None:
        plan.beats[i] = Beat("wait", None, None, node_id, pause_s=0.0, wait_s=4.0)
    else:
        plan.beats[i].text = text


def k_clean(plan: Plan) -> Expected:
    return []


def k_consent_missing(plan: Plan) -> Expected:
    _drop_node(plan, "consent")
    return [finding("consent.missing", "consent")]


def k_consent_refused(plan: Plan) -> Expected:
    _set_answer(plan, "consent", "不同意")
    return [
        finding("consent.missing", "consent"),
        finding("answer.not_affirmative", "consent", "customer"),
    ]


def k_reminder_missing(plan: Plan) -> Expected:
    _drop_node(plan, "reminder")
    return [finding("reminder.missing", "reminder")]


def k_reminder_short(plan: Plan) -> Expected:
    plan.node_beat("reminder").text = SHORT_REMINDERS["builtin" if _builtin(plan) else "mini"]
    return [finding("reminder.missing", "reminder", "salesperson")]


def k_node_missing(plan: Plan) -> Expected:
    node = "exclusions" if _builtin(plan) else "premium"
    _drop_node(plan, node)
    return [finding("script.node_missing", node, "salesperson")]


def k_out_of_order(plan: Plan) -> Expected:
    after = "introduction" if _builtin(plan) else "premium"
    moved = [b for b in plan.beats if b.node == "reminder"]
    _drop_node(plan, "reminder")
    i = plan.last_index(after) + 1
    plan.beats[i:i] = moved
    return [finding("script.out_of_order", "reminder", "salesperson")]


def k_negative_answer(plan: Plan) -> Expected:
    node = "confirm_understood" if _builtin(plan) else "id_card"
    text = "没听懂" if _builtin(plan) else "我不清楚"
    _set_answer(plan, node, text)
    return [finding("answer.not_affirmative", node, "customer")]


def k_no_answer(plan: Plan) -> Expected:
    _set_answer(plan, "id_card", None)
    return [finding("answer.not_affirmative", "id_card", "customer")]


def _forbidden(index: int) -> Callable[[Plan], Expected]:
    def kind(plan: Plan) -> Expected:
        i = plan.last_index("premium") + 1
        text = FORBIDDEN_LINES[index]
        plan.beats.insert(i, Beat("extra", "salesperson", text, "premium", pause_s=0.8))
        return [finding("speech.forbidden_phrase", "premium", "salesperson")]

    return kind


def _key(plan: Plan) -> str:
    return "a" if plan.policy.customer_name == base_policies()["a"].customer_name else "b"


def k_wrong_premium(plan: Plan) -> Expected:
    premium = (plan.policy.premium or 0) + 3000
    text = wrong_number_text(plan.template.id, _key(plan), "premium", premium=premium)
    plan.node_beat("premium").text = text
    return [finding("speech.number_mismatch", "premium", "salesperson")]


def k_wrong_days(plan: Plan) -> Expected:
    node = "cooling_off" if _builtin(plan) else "premium"
    days = 10 if plan.policy.cooling_off_days != 10 else 20
    text = wrong_number_text(plan.template.id, _key(plan), node, cooling_off_days=days)
    plan.node_beat(node).text = text
    return [finding("speech.number_mismatch", node, "salesperson")]


def k_customer_absent(plan: Plan) -> Expected:
    plan.insert_wait("premium", 10.0)
    plan.absent.append(("customer", "premium"))
    return [finding("face.absent", None, "customer")]


def _extra_person(who: str, node: str) -> Callable[[Plan], Expected]:
    def kind(plan: Plan) -> Expected:
        plan.insert_wait(node, 5.0)
        plan.extra_person.append((who, node, plan.spare_faces[0]))
        return [finding("face.extra_person", None, who)]

    return kind


def k_identity_mismatch(plan: Plan) -> Expected:
    assert plan.card is not None
    plan.card["face"] = plan.spare_faces[1]
    return [finding("face.identity_mismatch", "id_card", "customer")]


def k_id_card_missing(plan: Plan) -> Expected:
    plan.card = None
    return [finding("document.id_card_missing", "id_card", "customer")]


def _card_field(**change: str) -> Callable[[Plan], Expected]:
    def kind(plan: Plan) -> Expected:
        assert plan.card is not None
        plan.card.update(change)
        return [finding("document.id_card_mismatch", "id_card", "customer")]

    return kind


def k_bad_check_digit(plan: Plan) -> Expected:
    assert plan.card is not None
    number = plan.policy.customer_id_number
    wrong = "0" if number[-1] != "0" else "1"
    plan.card["id_number"] = number[:-1] + wrong  # same person, check character invalid
    return [finding("document.id_card_mismatch", "id_card", "customer")]


def _page_field(expect: list[str], **change: str | None) -> Callable[[Plan], Expected]:
    def kind(plan: Plan) -> Expected:
        assert plan.page is not None
        plan.page.update(change)
        return [finding(code, "signature", "customer") for code in expect]

    return kind


def k_page_missing(plan: Plan) -> Expected:
    plan.page = None
    return [
        finding("document.signature_missing", "signature", "customer"),
        finding("document.risk_sentence_missing", "signature", "customer"),
    ]


def k_quality_clipped(plan: Plan) -> Expected:
    # Gain 8 drives the loud part of each syllable into full-scale clipping (~3% of samples).
    plan.audio_fx["salesperson"] = {"gain": 8.0, "clip_at": 1.0}
    return [finding("media.quality", None, "salesperson")]


def k_quality_dark(plan: Plan) -> Expected:
    # The customer's room is dark until the documents are shown (a light is switched on).
    plan.dark.append(("customer", plan.nodes[0].id, "id_card", DARK_GAIN))
    return [finding("media.quality", None, "customer")]


def k_quality_muted(plan: Plan) -> Expected:
    plan.audio_fx["customer"] = {"muted": True}
    answered = [n.id for n in plan.nodes if n.requires_answer]
    return [
        finding("media.quality", None, "customer"),
        finding("consent.missing", "consent"),
        *[finding("answer.not_affirmative", n, "customer") for n in answered],
    ]


def k_media_gap(plan: Plan) -> Expected:
    plan.insert_wait("premium", GAP_S + 1.0)
    plan.gap = ("customer", "premium", GAP_S)
    return [finding("media.gap", None, "customer")]


DARK_GAIN = 0.12
GAP_S = 8.0

#: kind -> (change to a clean plan, description)
KINDS: dict[str, tuple[Callable[[Plan], Expected], str]] = {
    "clean": (k_clean, "clean session: every node, affirmative answers, documents correct"),
    "consent_missing": (k_consent_missing, "the consent question and answer are skipped"),
    "consent_refused": (k_consent_refused, "the customer answers 不同意 to the consent question"),
    "reminder_missing": (k_reminder_missing, "the fixed reminder is not read"),
    "reminder_short": (k_reminder_short, "a much shortened reminder is read"),
    "node_missing": (k_node_missing, "a required node is skipped"),
    "out_of_order": (k_out_of_order, "the reminder is read after a non-critical node"),
    "negative_answer": (k_negative_answer, "the customer answers 我不清楚 / 没听懂"),
    "no_answer": (k_no_answer, "the customer says nothing after the ID-card question"),
    "forbidden_guarantee": (_forbidden(0), "the salesperson says 保本保息，稳赚不赔"),
    "forbidden_inducement": (_forbidden(1), "the salesperson says the product 停售 next month"),
    "wrong_premium": (k_wrong_premium, "the spoken premium is 3000 yuan more than the policy's"),
    "wrong_days": (k_wrong_days, "the spoken cooling-off period differs from the policy's"),
    "customer_absent": (k_customer_absent, "the customer leaves the picture for ~14 s"),
    "extra_person_customer": (
        _extra_person("customer", "premium"),
        "a second person appears beside the customer",
    ),
    "extra_person_salesperson": (
        _extra_person("salesperson", "reminder"),
        "a second person appears beside the salesperson",
    ),
    "identity_mismatch": (k_identity_mismatch, "the ID card shows another person's photo"),
    "id_card_missing": (k_id_card_missing, "the ID card is never shown"),
    "id_card_wrong_number": (
        _card_field(id_number=OTHER_ID),
        "the ID card carries another (valid) ID number",
    ),
    "id_card_wrong_name": (_card_field(name=OTHER_NAME), "the ID card carries another name"),
    "id_card_bad_check_digit": (k_bad_check_digit, "the ID number's check character is wrong"),
    "signature_missing": (
        _page_field(["document.signature_missing"], signature=None),
        "the page shows the risk sentence but no signature",
    ),
    "signature_mismatch": (
        _page_field(["document.signature_mismatch"], signature=OTHER_NAME),
        "the page is signed with another name",
    ),
    "risk_sentence_missing": (
        _page_field(["document.risk_sentence_missing"], sentence=None),
        "the page shows a signature but no hand-copied risk sentence",
    ),
    "risk_sentence_altered": (
        _page_field(["document.risk_sentence_mismatch"], sentence=RISK_MISMATCHES[0]),
        "the hand-copied sentence is a different sentence",
    ),
    "risk_sentence_truncated": (
        _page_field(["document.risk_sentence_mismatch"], sentence=RISK_MISMATCHES[1]),
        "only the first part of the risk sentence is copied",
    ),
    "page_missing": (k_page_missing, "the signed page is never shown"),
    "quality_clipped": (k_quality_clipped, "the salesperson's microphone is overdriven (clipping)"),
    "quality_dark": (k_quality_dark, "the customer's video is very dark until the ID card node"),
    "quality_muted": (k_quality_muted, "the customer's microphone is muted the whole session"),
    "media_gap": (k_media_gap, f"the customer's connection drops for {GAP_S:.0f} s"),
}
