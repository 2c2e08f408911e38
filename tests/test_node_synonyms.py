"""Nodes said with the sale's synonyms (冷静期, 退保, 签字, 材料, 摄像头 ...) are found by their
content (inspection.node_synonyms folds them before the content key); a node left out, or
replaced by other talk, is still reported missing. Generated over the class: three
synonym paraphrases per node of the dev template (tests/node_synonym_wording.py), both dev
policies, heard clean, with homophone errors, or in Traditional characters without
punctuation."""

from __future__ import annotations

import re

import pytest
import zhconv

from inspection.node_content import content_grams
from inspection.node_synonyms import fold
from inspection.policy import Policy
from inspection.report import Finding
from inspection.rules import Thresholds
from inspection.rules.script import script_findings
from inspection.script_stage import align_script
from inspection.speech import Utterance
from inspection.templates import RenderedNode, load_template, render
from inspection.textnorm import pinyin
from tests.corpus_policies import base_policies
from tests.node_synonym_wording import OFF_TOPIC, said
from tests.node_wording import TEMPLATE, asr_noise

MISSING = {"script.node_missing", "reminder.missing", "consent.missing"}
NOISES = ("clean", "homophones", "traditional")


def _heard(text: str, noise: str, seed: int) -> str:
    if noise == "homophones":
        return asr_noise(text, 0.1, seed)
    if noise == "traditional":
        return re.sub(r"[，。？！、]", "", str(zhconv.convert(text, "zh-tw")))
    return text


def _lines(nodes: list[RenderedNode], policy: Policy, k: int, noise: str) -> dict[str, str]:
    """Node id -> what the salesperson said: paraphrase ``k + i`` of the i-th node."""
    return {
        n.id: _heard(said(policy, n.id, k + i), noise, 100 * k + i) for i, n in enumerate(nodes)
    }


def _findings(
    nodes: list[RenderedNode],
    policy: Policy,
    lines: dict[str, str],
    marked: set[str],
    after: dict[str, list[tuple[str, str]]] | None = None,
) -> list[Finding]:
    """Script findings of a session saying ``lines`` in template order (4.2 characters per
    second, 1 s apart, 3 s more after a question, which the customer answers with its
    expected answer), with teleprompter markers for the nodes said and those in ``marked``;
    ``after`` a node's id: (participant, text) said after it and its answer."""

    class _Marker:
        def __init__(self, t: float, node: str) -> None:
            self.t_s, self.node = t, node

    t, utts, markers = 1.0, [], []
    for n in nodes:
        if n.id in lines or n.id in marked:
            markers.append(_Marker(round(t - 0.3, 2), n.id))
        if n.id not in lines:
            continue
        d = len(lines[n.id]) / 4.2
        utts.append(Utterance("salesperson", round(t, 2), round(t + d, 2), lines[n.id]))
        if n.requires_answer:
            a = round(t + d + 1.0, 2)
            utts.append(Utterance("customer", a, a + 1.0, f"{n.expected_answer}。"))
        t += d + 1.0 + (3.0 if n.requires_answer else 0.0)
        for who, text in (after or {}).get(n.id, []):
            d = len(text) / 4.2
            utts.append(Utterance(who, round(t, 2), round(t + d, 2), text))
            t += d + 1.0
    th = Thresholds()
    res = align_script(
        nodes,
        {
            "salesperson": [u for u in utts if u.participant == "salesperson"],
            "customer": [u for u in utts if u.participant == "customer"],
        },
        load_template(TEMPLATE),
        policy,
        markers,  # type: ignore[arg-type]
        th,
    )
    return script_findings(res.coverage, th)


@pytest.mark.parametrize("noise", NOISES)
@pytest.mark.parametrize("k", [0, 1, 2])
@pytest.mark.parametrize("policy_key", ["a", "b"])
def test_nodes_said_with_synonyms_are_found(policy_key: str, k: int, noise: str) -> None:
    # Old code (83be447): 6 of these 18 sessions (k=2) had a false reminder.missing: the
    # reminder said with 材料 / 仔细 / 照实 kept too few of its clauses' syllable pairs.
    policy = base_policies()[policy_key]
    nodes = render(load_template(TEMPLATE), policy)
    lines = _lines(nodes, policy, k, noise)
    missing = [
        (f.code, f.node) for f in _findings(nodes, policy, lines, set()) if f.code in MISSING
    ]
    assert missing == [], lines


def _required(policy_key: str) -> list[str]:
    return [
        n.id for n in render(load_template(TEMPLATE), base_policies()[policy_key]) if n.required
    ]


@pytest.mark.parametrize("mode", ["left_out", "other_talk"])
@pytest.mark.parametrize("node_id", _required("b"))
def test_node_not_said_is_still_missing(node_id: str, mode: str) -> None:
    policy = base_policies()["b"]
    nodes = render(load_template(TEMPLATE), policy)
    lines = _lines(nodes, policy, 0, "homophones")
    del lines[node_id]
    if mode == "other_talk":
        lines[node_id] = OFF_TOPIC[sum(map(ord, node_id)) % len(OFF_TOPIC)]
    found = _findings(nodes, policy, lines, {node_id} if mode == "other_talk" else set())
    assert any(f.code in MISSING and f.node == node_id for f in found), node_id


#: A node's content restated in other words, out of its place: the salesperson's reply to the
#: customer's question after the confirmation (values of policy "b").
REPLIES = {
    "surrender": (
        "那我以后要是退保会亏钱吗？",
        "会的，冷静期以后退保只能退现金价值，会有一些损失。",
    ),
    "cooling_off": (
        "那我要是后悔了能退吗？",
        "能退，签收后有20天冷静期，这期间退保交的钱都退给您。",
    ),
    "is_insurance": ("这个是存款吗？", "不是存款，也不是理财，它是保险。"),
}


@pytest.mark.parametrize("noise", ["clean", "homophones"])
@pytest.mark.parametrize("node_id", sorted(REPLIES))
def test_node_left_out_then_restated_in_a_reply_is_still_missing(node_id: str, noise: str) -> None:
    # 4 of 6 fail on e59744c (synonyms folded, a node still covered out of order by its
    # content key alone): the surrender's and cooling_off's replies covered the left-out node,
    # as on dev1p dev08. They pass on 83be447, whose key did not reach these replies.
    policy = base_policies()["b"]
    nodes = render(load_template(TEMPLATE), policy)
    lines = _lines(nodes, policy, 0, noise)
    del lines[node_id]
    # The confirmation read from the teleprompter, then the customer's question and the reply.
    lines["confirm_understood"] = next(n.text for n in nodes if n.id == "confirm_understood")
    question, reply = REPLIES[node_id]
    after = {
        "confirm_understood": [("customer", question), ("salesperson", _heard(reply, noise, 7))]
    }
    found = _findings(nodes, policy, lines, set(), after)
    assert any(f.code in MISSING and f.node == node_id for f in found), node_id


def _folded(text: str) -> list[str]:
    return fold(text, pinyin(text), frozenset())


def test_synonyms_fold_by_sound_to_one_word() -> None:
    assert _folded("冷静期") == _folded("犹豫期")
    assert _folded("冷静七") == _folded("犹豫期")  # a homophone of the synonym folds too
    assert _folded("签子") == _folded("签名")
    assert _folded("退保") == _folded("解除合同")
    assert content_grams("签字的材料") == content_grams("签名的文件")
    # One-character words are not folded: 买 and 看 are everywhere.
    assert _folded("买") == ["mai"]
    assert _folded("超过犹豫期") == ["cao", "guo", *_folded("犹豫期")]
