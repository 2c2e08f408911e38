"""Confidence-aware findings: a finding that rests on weak recognition is review (with the
confidence in its evidence), fail only on strong evidence; generated over answer kinds,
confidences, uncertainty reasons and closed-set scores."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from inspection import rules
from inspection.policy import Policy
from inspection.rules import NodeCoverage, NumberCheck, PhraseHit, Thresholds
from inspection.templates import RenderedNode, load_template, render

MINI = Path(__file__).parent / "data" / "templates" / "mini.yaml"
TH = Thresholds()


@pytest.fixture(scope="module")
def questions() -> list[RenderedNode]:
    policy = Policy(customer_name="李明华", customer_id_number="x", product_name="p", premium=1)
    return [n for n in render(load_template(MINI), policy) if n.requires_answer]


def _cov(node: RenderedNode, **answer: object) -> NodeCoverage:
    base = NodeCoverage(node, 0.95, 10.0, 14.0, node.text, "affirmative", "好的", 14.5, 15.0)
    return dataclasses.replace(base, **answer)  # type: ignore[arg-type]


def _severities(cov: NodeCoverage) -> set[str]:
    return {f.severity for f in rules.script_findings([cov], TH) if f.node == cov.node.id}


CONFIDENCES = (0.05, 0.3, 0.49, 0.5, 0.8, 1.0)
NOT_YES = ("negative", "unsure")


@pytest.mark.parametrize(("kind", "conf"), list(itertools.product(NOT_YES, CONFIDENCES)))
def test_a_clear_no_fails_only_on_confident_words(
    questions: list[RenderedNode], kind: str, conf: float
) -> None:
    for node in questions:
        cov = _cov(node, answer=kind, answer_text="不清楚", answer_confidence=conf)
        want = "fail" if conf >= TH.answer_min_confidence else "review"
        assert _severities(cov) == {want}, (node.id, kind, conf)
        (f, *_) = [
            f for f in rules.script_findings([cov], TH) if f.code == "answer.not_affirmative"
        ]
        assert f.evidence["scores"]["answer_confidence"] == conf
        assert f.evidence["threshold"]["answer_min_confidence"] == TH.answer_min_confidence


@pytest.mark.parametrize(
    ("kind", "reason"),
    list(
        itertools.product(
            ("negative", "unsure", "affirmative", "unrecognised"),
            ("low_confidence", "unrecognised", "repetition", "too_fast"),
        )
    ),
)
def test_answers_on_uncertain_speech_are_review_never_a_pass(
    questions: list[RenderedNode], kind: str, reason: str
) -> None:
    for node in questions:
        cov = _cov(node, answer=kind, answer_uncertain=reason, answer_confidence=0.9)
        assert _severities(cov) == {"review"}, (node.id, kind, reason)
        f = next(f for f in rules.script_findings([cov], TH) if f.code == "answer.not_affirmative")
        assert f.evidence["uncertain"] == reason


@pytest.mark.parametrize("kind", ["affirmative", "negative", "unsure"])
@pytest.mark.parametrize("score", [0.75, 0.86, 0.99])
def test_closed_set_guesses_are_review(
    questions: list[RenderedNode], kind: str, score: float
) -> None:
    for node in questions:
        assert _severities(_cov(node, answer=kind, answer_score=score)) == {"review"}


def test_unrecognised_speech_is_review_and_silence_still_fails(
    questions: list[RenderedNode],
) -> None:
    for node in questions:
        assert _severities(_cov(node, answer="unrecognised", answer_text="")) == {"review"}
        silent = _cov(node, answer="missing", answer_text="", answer_start_s=None)
        assert _severities(silent) == {"fail"}
        assert _severities(_cov(node, answer="affirmative", answer_confidence=0.9)) == set()


@pytest.mark.parametrize("conf", CONFIDENCES)
@pytest.mark.parametrize("field", ["premium", "cooling_off_days", "insurance_years"])
def test_number_mismatch_on_a_weak_word_is_review(conf: float, field: str) -> None:
    check = NumberCheck(
        "n", field, 15.0, 10.0, 1.0, 2.0, "犹豫期10天", False, conf, (10.0, 70.0), "as recognised"
    )
    (f,) = rules.number_findings([check], TH)
    assert f.severity == ("fail" if conf >= TH.number_min_confidence else "review")
    assert f.evidence["scores"]["confidence"] == conf
    assert f.evidence["readings"] == [10.0, 70.0]
    assert rules.number_findings([dataclasses.replace(check, matches=True)], TH) == []


@pytest.mark.parametrize("conf", CONFIDENCES)
@pytest.mark.parametrize("score", [1.0, 0.95])
def test_forbidden_phrase_fails_only_when_exact_and_confident(conf: float, score: float) -> None:
    hit = PhraseHit("保本保息", "salesperson", 1.0, 2.0, "这个产品保本保息", score, conf)
    (f,) = rules.forbidden_findings([hit], TH)
    sure = score >= 0.999 and conf >= TH.forbidden_min_confidence
    assert f.severity == ("fail" if sure else "review")
    assert f.evidence["scores"]["confidence"] == conf
