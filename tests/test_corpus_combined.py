"""The v2 corpus's long combined sales (issue 11): 15-20 minutes, a main product and a rider
composed from two templates, sparse customer speech, questions back, worked examples; and,
read as a perfect transcript, the script checks find exactly the planted number mismatch.
Plans only (no media): fast."""

from __future__ import annotations

import pytest

from inspection.script import analyze
from inspection.speech import Utterance, Word
from tests.corpus_v2.build import layout, plan_for, specs
from tests.corpus_v2.combined import RIDER_KEY, customer_speech_share


def _combined(split: str) -> list[object]:
    return [s for s in specs(split) if s.kind.startswith("combined")]


@pytest.mark.parametrize("split", ["dev", "test"])
def test_combined_sessions_are_long_sparse_and_compose_two_templates(split: str) -> None:
    chosen = _combined(split)
    assert {s.kind for s in chosen} == {"combined_clean", "combined_rider_premium"}  # type: ignore[attr-defined]
    for spec in chosen:
        plan, var, expected = plan_for(spec)  # type: ignore[arg-type]
        duration = layout(plan, var)
        assert 15 * 60 - 5 <= duration <= 19.5 * 60 + 5, duration
        assert [p.key for p in plan.policy.products] == ["main", RIDER_KEY]
        rider_nodes = [n for n in plan.nodes if n.product == RIDER_KEY]
        assert len(rider_nodes) == 4 and all(n.id.startswith("rider1.") for n in rider_nodes)
        assert [n.id for n in plan.nodes].count(plan.nodes[0].id) == 1  # consent said once
        kinds = [b.kind for b in plan.beats]
        assert kinds.count("question") >= 2 and kinds.count("answer") >= 3
        assert customer_speech_share(plan, var) < 0.05  # sparse: a few short answers
        for e in expected:
            assert e["node"] in {n.id for n in plan.nodes}


def _transcript(spec: object) -> tuple[object, list[Utterance], list[Utterance], object]:
    plan, var, expected = plan_for(spec)  # type: ignore[arg-type]
    layout(plan, var)
    out: dict[str, list[Utterance]] = {"salesperson": [], "customer": []}
    for b in plan.beats:
        if b.text is None or b.speaker is None:
            continue
        w = Word(b.start_s, b.end_s, b.text, 0.95)
        out[b.speaker].append(Utterance(b.speaker, b.start_s, b.end_s, b.text, [w]))
    return plan, out["salesperson"], out["customer"], expected


@pytest.mark.parametrize("split", ["dev", "test"])
def test_perfect_transcript_of_a_combined_sale_has_only_the_planted_number_mismatch(
    split: str,
) -> None:
    for spec in _combined(split):
        plan, sales, customer, expected = _transcript(spec)
        res = analyze(plan.nodes, sales, customer, plan.policy)  # type: ignore[attr-defined]
        bad = {(n.node_id, n.product) for n in res.numbers if not n.matches}
        want = {(e["node"], RIDER_KEY) for e in expected if e["code"] == "speech.number_mismatch"}
        assert bad == want, (spec, [n for n in res.numbers if not n.matches])
        # Each product's premium was checked against that product's value.
        checked = {(n.product, n.expected) for n in res.numbers if n.kind == "premium"}
        main = plan.policy.product(None)  # type: ignore[attr-defined]
        assert ("main", main.premium) in checked or (None, main.premium) in checked
