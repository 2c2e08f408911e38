"""Nodes said in the insurer's own words, with ASR homophone errors: covered by their content
(inspection.node_content); a node that is not said stays missing. The variants are generated
here (clause order, synonyms, function words, fillers, homophones), not taken from a corpus."""

from __future__ import annotations

import random

import pytest

from inspection.node_content import content_grams, node_key
from inspection.script import NodeSpec, align_nodes
from inspection.speech import Utterance

SURRENDER = NodeSpec(
    "surrender", "退保损失", "过了犹豫期再解除合同，只能退还保单的现金价值，您可能会有一定损失。"
)
REMINDER = NodeSpec(
    "reminder",
    "录音录像提示",
    "本次录音录像对您日后维护自身权益十分重要，请您认真阅读所签文件，并如实回答每个问题。",
    role="reminder",
)
PRODUCT = NodeSpec(
    "product",
    "保险产品",
    "您投保的安康定期寿险属于保险产品，不属于储蓄或理财产品，由安康人寿承保。",
)
OTHER = [
    "您好，接下来的投保过程我们会全程录音录像，您同意吗？",
    "我是安康人寿的保险销售人员张伟，这是我的执业证，请您看一下。",
    "本产品的交费方式为年交，每期交12000元，共交10年，保险期间为20年。",
    "合同签收后您有15天的犹豫期，犹豫期内解除合同，可以全额退还保费。",
    "刚才讲的这些内容，您都清楚了吗？",
    "请您在投保单上签名，并把风险提示语句抄写一遍，写好后对着镜头给我看一下。",
]

# Wording an insurer's salesperson changes freely around the content words (order, modifiers,
# function words), and the homophones Whisper writes. Replacing the content words themselves
# by synonyms (文件 -> 材料) is beyond a syllable match and is not claimed.
SYNONYMS = {
    "只能": ["就只能", "只"],
    "退还": ["退", "退回"],
    "您可能会有": ["可能会有", "会有", "您会有"],
    "一定": ["一些", ""],
    "过了": ["要是过了", "等过了"],
    "再解除合同": ["再解除合同的话", "以后再解除合同"],
    "保单的": ["", "这张保单的"],
    "认真阅读": ["认真地阅读一下", "都认真阅读"],
    "如实回答每个问题": ["每个问题都如实回答", "问题都如实作答"],
    "承保": ["来承保", "负责承保"],
    "储蓄": ["储蓄产品", "储蓄"],
    "本次": ["这次", "此次"],
    "日后": ["以后", "今后"],
    "十分": ["非常", "特别"],
    "自身": ["自己的", ""],
    "所签": ["签的", "签署的"],
    "并": ["", "也请"],
    "属于": ["是", "属于"],
    "或": ["或者", "也不是"],
    "由": ["是由", ""],
}
HOMOPHONES = {
    "期": "七",
    "保": "宝",
    "值": "直",
    "价": "架",
    "合": "和",
    "权": "全",
    "益": "意",
    "录": "路",
    "像": "向",
    "真": "针",
    "读": "独",
    "产": "铲",
    "品": "频",
    "险": "显",
}
FILLERS = ["那个，", "嗯，", "就是说，"]


def _variant(text: str, rng: random.Random, homophones: int) -> str:
    clauses = [c for c in text.rstrip("。").split("，") if c]
    if len(clauses) > 2 and rng.random() < 0.5:
        clauses[1:] = rng.sample(clauses[1:], len(clauses) - 1)
    out = []
    for c in clauses:
        for word, alts in SYNONYMS.items():
            if word in c:
                c = c.replace(word, rng.choice(alts), 1)
        out.append(rng.choice(FILLERS) + c if rng.random() < 0.3 else c)
    said = list("，".join(out) + "。")
    spots = [i for i, ch in enumerate(said) if ch in HOMOPHONES]
    for i in rng.sample(spots, min(homophones, len(spots))):
        said[i] = HOMOPHONES[said[i]]
    return "".join(said)


def _session(node_text: str | None) -> list[Utterance]:
    lines = OTHER[:3] + ([node_text] if node_text else []) + OTHER[3:]
    return [Utterance("salesperson", 6.0 * i, 6.0 * i + 5.0, t) for i, t in enumerate(lines)]


@pytest.mark.parametrize("node", [SURRENDER, REMINDER, PRODUCT], ids=lambda n: n.id)
def test_paraphrased_node_with_asr_errors_is_covered(node: NodeSpec) -> None:
    # Whole-text similarity alone covered none of the reminder's variants (0.65-0.72 < 0.75).
    said = [_variant(node.text, random.Random(seed), homophones=3) for seed in range(8)]
    results = [align_nodes([node], _session(s))[0] for s in said]
    missed = [
        (s, a.score, a.key_score) for s, a in zip(said, results, strict=True) if not a.covered
    ]
    assert len(missed) <= 1, missed


@pytest.mark.parametrize("node", [SURRENDER, REMINDER, PRODUCT], ids=lambda n: n.id)
def test_node_not_said_stays_missing(node: NodeSpec) -> None:
    (a,) = align_nodes([node], _session(None))
    assert not a.covered and a.key_score < 0.45, (a.score, a.key_score)


def test_function_characters_carry_no_content() -> None:
    assert content_grams("您的了吗") == frozenset()
    assert ("xian", "jin") in content_grams("现金价值")
    key = node_key(REMINDER.text, every_clause=True)
    assert len(key.clauses) == 3
