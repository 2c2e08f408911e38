"""Script checks on real Whisper output of a whole traditional_life session
(tests/data/asr, made by scripts/asr_fixture.py): clean, with faults, and with consent
and reminder read last (tests/test_script.py has the synthetic transcripts)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from inspection.policy import Policy
from inspection.script import analyze
from inspection.speech import Utterance, Word
from inspection.templates import render

ASR_FIXTURE = Path(__file__).parent / "data" / "asr" / "traditional_life_a.json"


def _fixture() -> tuple[dict[str, Any], list[Utterance], list[Utterance]]:
    data = json.loads(ASR_FIXTURE.read_text(encoding="utf-8"))

    def utts(key: str) -> list[Utterance]:
        return [Utterance(**{**u, "words": [Word(**w) for w in u["words"]]}) for u in data[key]]

    return data, utts("salesperson"), utts("customer")


def _shift(u: Utterance, dt: float) -> Utterance:
    words = [Word(w.start_s + dt, w.end_s + dt, w.text, w.probability) for w in u.words]
    return Utterance(
        u.participant, u.start_s + dt, u.end_s + dt, u.text, words, u.avg_logprob, u.no_speech_prob
    )


def _traditional(**changes: Any) -> tuple[Any, list[Any], Policy]:
    from tests.corpus_plan import get_template, policy_for

    tpl = get_template("traditional_life")
    policy = dataclasses.replace(policy_for("traditional_life", "a"), **changes)
    # Nodes always rendered from the true policy: the recording said the true values.
    return tpl, render(tpl, policy_for("traditional_life", "a")), policy


def test_real_asr_session_passes_every_check() -> None:
    data, sales, customer = _fixture()
    tpl, nodes, policy = _traditional()
    res = analyze(nodes, sales, customer, policy, forbidden_phrases=tpl.forbidden_phrases)
    truth = {n["id"]: n for n in data["truth"]["nodes"]}
    assert [a.node_id for a in res.nodes] == list(truth)
    for a in res.nodes:
        assert a.covered and a.in_order and a.score > 0.9, a
        assert abs(a.start_s - truth[a.node_id]["start_s"]) < 0.5, a
        assert abs(a.end_s - truth[a.node_id]["end_s"]) < 0.6, a
    assert {k: a.kind for k, a in res.answers.items()} == {
        "consent": "affirmative",
        "confirm_understood": "affirmative",
        "id_card": "affirmative",
    }
    assert [(n.kind, n.spoken, n.matches, n.node_id) for n in res.numbers] == [
        ("premium", 12000, True, "premium"),
        ("payment_years", 10, True, "premium"),
        ("insurance_years", 20, True, "premium"),
        ("cooling_off_days", 15, True, "cooling_off"),
    ]
    assert res.forbidden == [] and res.order_violations == []


def test_real_asr_session_with_faults() -> None:
    _data, sales, customer = _fixture()
    tpl, _nodes, policy = _traditional(premium=15000, cooling_off_days=20)
    # Numbers are compared with what the node states: the script of this policy (15000).
    nodes = render(tpl, policy)
    # The exclusions were never read, and the customer never confirmed the ID card.
    sales = [u for u in sales if "责任免除" not in u.text]
    customer = [u for u in customer if "本人" not in u.text and "被人" not in u.text]
    res = analyze(nodes, sales, customer, policy, forbidden_phrases=tpl.forbidden_phrases)
    assert [a.node_id for a in res.nodes if not a.covered] == ["exclusions"]
    assert res.answers["id_card"].kind == "missing"
    assert [(n.kind, n.spoken, n.expected) for n in res.numbers if not n.matches] == [
        ("premium", 12000, 15000),
        ("cooling_off_days", 15, 20),
    ]


def test_real_asr_consent_and_reminder_read_last() -> None:
    _data, sales, customer = _fixture()
    _tpl, nodes, policy = _traditional()
    consent, reminder, rest = sales[0], sales[1], sales[2:]
    answer = [_shift(customer[0], 130.0), *customer[1:]]
    res = analyze(nodes, [*rest, _shift(consent, 130.0), _shift(reminder, 130.0)], answer, policy)
    assert [(v.node_id, v.after_node_id) for v in res.order_violations] == [
        ("consent", "introduction"),
        ("reminder", "introduction"),
    ]
    assert res.answers["consent"].kind == "affirmative"
    # Consent alone read after the reminder: it must come first among the critical nodes too.
    res = analyze(nodes, [reminder, *rest, _shift(consent, 130.0)], answer, policy)
    assert [(v.node_id, v.after_node_id) for v in res.order_violations] == [("consent", "reminder")]
