"""Nodes in a noisy room (issue 7): the recogniser loses whole stretches of the salesperson's
speech (a window dropped as a repetition loop or as low-confidence, babble taken for
silence). A node said there leaves no text, like a node left out, but it leaves its time: the
finding is `review` ("unheard", with the seconds in evidence), never `fail`; a node left out
leaves no time and stays `fail`.

Generated over the class: every node x paraphrase seeds x 20% recogniser noise, lost alone or
within a 5-20 s stretch, with and without teleprompter markers (tests/node_wording.py).
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from inspection.rules import Thresholds
from inspection.rules.script import script_findings
from inspection.script import align_nodes
from inspection.script_stage import align_script
from inspection.speech import Utterance
from inspection.templates import load_template
from tests import node_wording as nw

NODES = nw.nodes()
IDS = [n.id for n in NODES]
REQUIRED = [n.id for n in NODES if n.required]
DOC_PAUSE_S = 8.0  # insurer_dev.yaml's document_pause_s


def _lines(seed: int, cer: float = 0.2) -> dict[str, str]:
    return {
        nid: nw.asr_noise(nw.PARAPHRASES[nid][seed % len(nw.PARAPHRASES[nid])], cer, seed)
        for nid in IDS
    }


def _span(utts: list[Utterance], text: str) -> tuple[float, float]:
    (u,) = [u for u in utts if u.text == text]
    return u.start_s, u.end_s


def _findings(
    utts: list[Utterance], markers: list[tuple[float, str]]
) -> dict[str, tuple[str, str, dict[str, object]]]:
    class _M:
        def __init__(self, t: float, node: str) -> None:
            self.t_s, self.node = t, node

    th = Thresholds()
    res = align_script(
        NODES,
        {
            "salesperson": [u for u in utts if u.participant == "salesperson"],
            "customer": [u for u in utts if u.participant == "customer"],
        },
        load_template(nw.TEMPLATE),
        nw.POLICY,
        [_M(t, n) for t, n in markers],  # type: ignore[misc]
        th,
    )
    # Node coverage only: consent.missing on the (absent) customer's answer is not at stake.
    codes = ("script.node_missing", "reminder.missing", "consent.missing")
    return {
        f.node or "": (f.code, f.severity, f.evidence)
        for f in script_findings(res.coverage, th)
        if f.code in codes and f.evidence.get("support") in ("partial", "unheard", "absent")
    }


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("node_id", REQUIRED)
def test_node_lost_by_the_recogniser_is_review_not_fail(node_id: str, seed: int) -> None:
    lines = _lines(seed)
    utts, markers = nw.session(lines, document_pause_s=DOC_PAUSE_S)
    t0, t1 = _span(utts, lines[node_id])
    heard = nw.lose(utts, t0 - 0.2, t1 + 0.2)
    for mk in (markers, []):
        (a,) = [x for x in align_nodes(NODES, heard, mk) if x.node_id == node_id]
        assert not a.covered and a.support == "unheard", a.slot
        found = _findings(heard, mk)
        code, severity, ev = found[node_id]
        assert severity == "review", found
        assert ev["support"] == "unheard" and float(ev["slot"]["unheard_s"]) > 0  # type: ignore[index]
        assert all(s == "review" for _c, s, _e in found.values()), found


@pytest.mark.parametrize("seed", range(6))
def test_stretch_of_5_to_20_s_lost_fails_no_node(seed: int) -> None:
    rng = random.Random(seed)
    lines = _lines(seed)
    utts, markers = nw.session(lines, document_pause_s=DOC_PAUSE_S)
    length = rng.uniform(5.0, 20.0)
    t0 = rng.uniform(1.0, utts[-1].end_s - length)
    heard = nw.lose(utts, t0, t0 + length)
    for mk in (markers, []):
        found = _findings(heard, mk)
        assert all(s == "review" for _c, s, _e in found.values()), (t0, length, found)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("node_id", REQUIRED)
def test_node_left_out_in_the_same_sessions_stays_fail(node_id: str, seed: int) -> None:
    # The same sessions, the node not said at all: no time left for it, nothing like it.
    lines = {k: v for k, v in _lines(seed).items() if k != node_id}
    utts, markers = nw.session(lines, document_pause_s=DOC_PAUSE_S)
    for mk in (markers, []):
        (a,) = [x for x in align_nodes(NODES, utts, mk) if x.node_id == node_id]
        assert not a.covered and a.support == "absent", a.slot
        code, severity, _ev = _findings(utts, mk)[node_id]
        assert severity == "fail"


@pytest.mark.parametrize("node_id", ["confirm_understood", "id_card", "signature"])
def test_rest_of_the_session_lost_is_review_with_markers(node_id: str) -> None:
    # dev16 in babble: the salesperson's transcript stops at 440 s of 1,066 s; the nodes
    # after it have no speech after them either, only their teleprompter windows.
    lines = _lines(1)
    utts, markers = nw.session(lines, document_pause_s=DOC_PAUSE_S)
    t0, _t1 = _span(utts, lines[node_id])
    customer = [Utterance("customer", utts[-1].end_s + 0.5, utts[-1].end_s + 1.5, "好的")]
    heard = nw.lose(utts, t0 - 0.2, utts[-1].end_s + 1.0) + customer
    found = _findings(heard, markers)
    required = {n.id for n in NODES if n.required}
    lost = [n for n in IDS[IDS.index(node_id) :] if n in required]
    assert set(lost) <= {k for k, v in found.items() if v[1] == "review"}, found
    assert all(s == "review" for _c, s, _e in found.values()), found


@pytest.mark.parametrize("unit", ["银行卡里的", "北京，", "有很多资讯，"])
@pytest.mark.parametrize("node_id", ["reminder", "cooling_off", "surrender", "signature"])
def test_node_heard_as_a_recogniser_loop_is_review(node_id: str, unit: str) -> None:
    # dev16 in babble: a node's whole time heard as "银行卡里的银行卡里的..." (Whisper looping
    # on audio it cannot read): that text accounts for none of the node's time.
    lines = _lines(2)
    utts, markers = nw.session(lines, document_pause_s=DOC_PAUSE_S)
    text = lines[node_id]
    looped = [
        replace(u, text=unit * (len(text) // len(unit))) if u.text == text else u for u in utts
    ]
    for mk in (markers, []):
        (a,) = [x for x in align_nodes(NODES, looped, mk) if x.node_id == node_id]
        assert not a.covered and a.support == "unheard", a.slot
        assert _findings(looped, mk)[node_id][1] == "review"
