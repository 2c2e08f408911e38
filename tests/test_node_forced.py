"""Forced scores of node texts on a slot's audio (inspection.node_forced, issue 7): a node said
where it belongs in words the recogniser lost is told from one left out by how well its own
text explains the slot's audio against every other node's text; a clear lead moves its finding
one step (review -> covered, fail -> review), never more."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from inspection.media import Track, load_audio
from inspection.node_forced import ForcedScore, apply_forced, forced_scores
from inspection.node_text_scorer import NodeTextScorer
from inspection.policy import Policy
from inspection.rules import NodeCoverage, Thresholds
from inspection.rules.script import script_findings
from inspection.templates import RenderedNode, load_template, render
from tests.corpus_media import clip_file

TEMPLATE = Path(__file__).parent / "data" / "templates" / "insurer_dev.yaml"
POLICY = {
    "customer_name": "王芳",
    "customer_id_number": "110101199003077777",
    "product_name": "安康定期寿险",
    "product_type": "traditional",
    "salesperson_name": "张伟",
    "institution": "安康人寿",
    "premium": 12000,
    "payment_method": "年交",
    "payment_years": 10,
    "insurance_years": 20,
    "cooling_off_days": 15,
}
# The insurer's own wording of two dev nodes (tests/corpus_v2/wording.py), with TTS clips.
SAID = {
    "premium": "交费方式是年交，每期交12000元，一共交10年，保险期间是20年。",
    "surrender": "要是过了犹豫期再解除合同，就只能退保单的现金价值，可能会有一定的损失。",
}


def _nodes() -> list[RenderedNode]:
    return render(load_template(TEMPLATE), Policy.from_dict(POLICY))


def _uncovered(node: RenderedNode, support: str, t0: float, t1: float) -> NodeCoverage:
    slot = {"start_s": t0, "end_s": t1, "from_s": t0, "to_s": t1, "unheard_s": t1 - t0}
    return NodeCoverage(node=node, score=0.1, support=support, slot=slot)


def _covered(node: RenderedNode) -> NodeCoverage:
    return NodeCoverage(node=node, score=0.9, start_s=0.0, end_s=1.0)


def _node(nodes: list[RenderedNode], node_id: str) -> RenderedNode:
    return next(n for n in nodes if n.id == node_id)


def _score(margin: float) -> ForcedScore:
    return ForcedScore(own=-2.0, rival="closing", rival_score=-2.0 - margin, margin=margin,
                       speech_s=6.0)  # fmt: skip


@pytest.mark.parametrize(
    ("support", "margin", "after", "finding"),
    [
        ("unheard", 2.0, "forced", None),  # review -> covered
        ("partial", 2.0, "forced", None),
        ("absent", 2.0, "heard", "review"),  # fail -> review, never covered
        ("unheard", 0.2, "unheard", "review"),  # no clear lead: as before
        ("absent", 0.2, "absent", "fail"),
    ],
)
def test_a_clear_lead_moves_a_node_finding_one_step(
    support: str, margin: float, after: str, finding: str | None
) -> None:
    nodes = _nodes()
    cov = [_covered(n) for n in nodes]
    k = next(i for i, n in enumerate(nodes) if n.id == "surrender")
    cov[k] = _uncovered(nodes[k], support, 40.0, 48.0)
    th = Thresholds()
    out = apply_forced(
        cov, {"surrender": _score(margin)}, th.node_forced_margin, th.node_forced_clause_margin
    )
    assert out[k].support == after
    assert out[k].slot is not None and out[k].slot["forced"]["margin"] == margin
    found = [f for f in script_findings(out, th) if f.node == "surrender"]
    assert [f.severity for f in found] == ([finding] if finding else [])
    if after == "forced":
        assert (out[k].start_s, out[k].end_s) == (40.0, 48.0)


@pytest.mark.parametrize(
    ("answer", "severity"), [("unsure", "review"), ("negative", "review"), ("missing", "review")]
)
def test_an_answer_after_a_question_covered_only_by_its_slot_never_fails(
    answer: str, severity: str
) -> None:
    """The question was not read, so its answer window is a guess: a hedge heard in it (a
    garbled yes: 能不能是我自己) must not fail the session; it was a fail before."""
    nodes = _nodes()
    cov = [_covered(n) for n in nodes]
    k = next(i for i, n in enumerate(nodes) if n.id == "id_card")
    heard = answer if answer == "missing" else "能不能是我自己"
    cov[k] = replace(
        _uncovered(nodes[k], "unheard", 70.0, 88.0),
        answer=answer,
        answer_text="" if answer == "missing" else heard,
        answer_confidence=None if answer == "missing" else 0.9,
    )
    th = Thresholds()
    out = apply_forced(
        cov, {"id_card": _score(2.0)}, th.node_forced_margin, th.node_forced_clause_margin
    )
    assert out[k].support == "forced"
    found = [f for f in script_findings(out, th) if f.node == "id_card"]
    assert [(f.code, f.severity) for f in found] == [("answer.not_affirmative", severity)]
    assert found[0].evidence["uncertain"] == "question_unread"


def test_a_clear_yes_after_a_question_covered_by_its_slot_passes() -> None:
    nodes = _nodes()
    cov = [_covered(n) for n in nodes]
    k = next(i for i, n in enumerate(nodes) if n.id == "id_card")
    cov[k] = replace(
        _uncovered(nodes[k], "unheard", 70.0, 88.0),
        answer="affirmative",
        answer_text="对，是我本人",
        answer_confidence=0.9,
    )
    th = Thresholds()
    out = apply_forced(
        cov, {"id_card": _score(2.0)}, th.node_forced_margin, th.node_forced_clause_margin
    )
    assert out[k].answer_uncertain is None
    assert [f for f in script_findings(out, th) if f.node == "id_card"] == []


def test_nodes_read_word_for_word_are_never_scored() -> None:
    # (The recording reminder is scored, clause by clause: tests/test_node_forced_clauses.py.)
    nodes = _nodes()
    strict = replace(_node(nodes, "surrender"), min_similarity=0.9)
    cov = [_covered(_node(nodes, "reminder")), _uncovered(strict, "unheard", 40.0, 48.0)]
    seen: list[int] = []

    class Never(NodeTextScorer):
        def __init__(self) -> None:
            pass

        def score(self, audio: np.ndarray, texts: object) -> list[float]:
            seen.append(1)
            return []

    assert forced_scores(Never(), np.zeros(16000 * 60, np.float32), cov) == {}
    assert not seen


def whisper_node_scorer() -> NodeTextScorer:
    """The node scorer on the installed Whisper base (real inference, one lane)."""
    from faster_whisper import WhisperModel

    from models.registry import ModelRegistry

    path = ModelRegistry.from_env().path("whisper-base")
    model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=2)
    return NodeTextScorer(model, threading.BoundedSemaphore(1), Counter(), threading.Lock())


@pytest.fixture(scope="module")
def scorer() -> NodeTextScorer:
    return whisper_node_scorer()


@pytest.mark.slow
def test_a_paraphrased_line_leads_the_cohort_on_its_own_slot_only(scorer: NodeTextScorer) -> None:
    # The premium node said in the insurer's words in the premium's slot, then the surrender
    # node said in the premium's slot (the premium left out, the salesperson went on): the
    # premium's text leads the cohort only in the first.
    nodes = _nodes()
    pad = np.zeros(8000, np.float32)
    clips = {k: load_audio([Track("salesperson", clip_file(t))]) for k, t in SAID.items()}
    audio = np.concatenate([pad, clips["premium"], pad, clips["surrender"], pad])
    p_end = (pad.size + clips["premium"].size) / 16000
    cov = [_covered(n) for n in nodes]
    k = next(i for i, n in enumerate(nodes) if n.id == "premium")
    said = [*cov[:k], _uncovered(nodes[k], "unheard", 0.0, p_end + 0.5), *cov[k + 1 :]]
    left_out = [*cov[:k], _uncovered(nodes[k], "unheard", p_end, audio.size / 16000), *cov[k + 1 :]]
    good = forced_scores(scorer, audio, said)["premium"]
    bad = forced_scores(scorer, audio, left_out)["premium"]
    assert good.margin > Thresholds().node_forced_margin, good
    assert bad.margin < 0 and bad.rival == "surrender", bad


def test_a_long_script_is_scored_against_the_nodes_nearest_the_slot() -> None:
    from inspection.node_forced import COHORT, _cohort

    nodes = [replace(_nodes()[1], id=f"n{i}", text=f"第{i}句") for i in range(22)]
    near = _cohort("n20", nodes)
    assert len(near) == COHORT + 1 and "n20" in near and "n0" not in near
    assert set(_cohort("n0", nodes[:5])) == {f"n{i}" for i in range(5)}
