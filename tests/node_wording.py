"""Script nodes as another insurer's salespeople would say them, heard through a recogniser
with homophone errors: generated variants for the node-coverage tests (test_node_slot).

The paraphrases of ``insurer_dev.yaml``'s nodes are written here, independently of the
corpus wording (tests/corpus_v2/wording.py): reordered clauses, synonyms (储蓄类, 保障期限,
拿回), dropped particles, added explanations. ``asr_noise`` substitutes characters by
homophones (same toneless syllable), near-homophones (zh/z, l/n, an/ang ...), and deletes a
few, at a given character error rate, deterministically per seed.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import jieba
from pypinyin import lazy_pinyin

from inspection.report import Finding
from inspection.rules import Thresholds
from inspection.rules.script import script_findings
from inspection.script_stage import align_script
from inspection.speech import Utterance
from inspection.templates import RenderedNode, load_template, render
from tests.corpus_policies import base_policies

TEMPLATE = Path(__file__).parent / "data" / "templates" / "insurer_dev.yaml"
#: The dev split's sale "b" (恒信终身寿险, 8600 元, 5 年交, 犹豫期 20 天).
POLICY = base_policies()["b"]


#: Two or three ways per node of saying it in other words (policy values of POLICY).
PARAPHRASES: dict[str, tuple[str, ...]] = {
    "consent": (
        "在正式投保之前跟您说明一下，整个过程我们都要录音录像，请问您是否同意？",
        "为了保障您的权益，这次办理投保我们需要全程录音和录像，您这边同意吧？",
        "我们接下来办理投保手续的全过程都会同步录音录像，这个您同意不同意？",
    ),
    "reminder": (
        "这个录音录像对您将来维护自己的权益很重要，所以请您仔细阅读签署的每份文件，每个问题都要如实回答。",
        "提醒您一下，本次录音录像关系到您日后维护自身的权益，签字的文件请您认真看，问到的问题请如实回答。",
    ),
    "introduction": (
        "先介绍一下我自己，我叫刘洋，是恒信人寿的保险销售人员，这是我的执业证书，您可以看一下。",
        "我是来自恒信人寿的刘洋，负责保险销售，执业证在这里，请您过目。",
    ),
    "is_insurance": (
        "需要跟您说明的是，恒信终身寿险是一款保险产品，它不是储蓄，也不是理财，承保公司是恒信人寿。",
        "您买的恒信终身寿险属于保险，而不是储蓄或者理财产品，承保的保险公司是恒信人寿。",
        "恒信人寿承保的这个恒信终身寿险，性质是保险产品，不能把它当作储蓄或者理财。",
    ),
    "premium": (
        "交费方面，您选的是年交，每期保费8600元，交费期5年，保险期间终身。",
        "您每年交8600元，交5年，采用年交的方式，合同的保险期间是终身。",
    ),
    "cooling_off": (
        "合同从您签收那天起有20天的犹豫期，这期间要是解除合同，所交保费全部退还。",
        "犹豫期是20天，从签收合同开始算，犹豫期内退保可以拿回全部保费。",
    ),
    "surrender": (
        "如果犹豫期过了以后再退保，只能退给您保单的现金价值，会有一定的损失。",
        "提醒您，犹豫期结束后退保，您拿回的是保单现金价值，跟交的保费比可能有损失。",
        "超过犹豫期再退保，只退还保单现金价值，这样您可能会损失一部分钱。",
    ),
    "confirm_understood": (
        "以上这些内容您都听明白了吗？",
        "上面讲的这几点您都清楚了没有？",
    ),
    "id_card": (
        "麻烦拿出您的身份证，正面朝向镜头，我们核对一下是不是您本人投保，好吗？",
        "现在需要您出示身份证，正面对准镜头，确认是本人投保，是您本人吧？",
    ),
    "signature": (
        "接下来麻烦您在投保单签名处签字，然后抄录一遍风险提示语，写好以后对着镜头展示。",
        "投保单上请您亲笔签名，并且把风险提示语句抄一遍，完成后对准镜头给我看一下。",
    ),
    "closing": ("好了，今天的录音录像就到这儿，感谢您的配合。",),
}

#: Talk that belongs to no node (a reply to a question back, an explanation).
OTHER_TALK = (
    "对，是20天，从您签收合同那天算起。",
    "这个的意思就是说，您有什么不明白的随时可以问我。",
)


#: Explanations a salesperson adds beyond the script (beneficiaries, grace period, health
#: disclosure, cash value, contact details): ~6x a node's length of insurance talk.
EXPLANATIONS = (
    "我再给您补充说明一下受益人的事情，身故受益人您可以指定为配偶或者子女，如果没有指定就按法定继承处理。"
    "另外关于宽限期，如果您哪一年忘了交保费，合同有六十天的宽限期，在宽限期内出险我们照样赔付。"
    "健康告知这一块也很重要，您要如实告知自己的身体情况，否则以后理赔的时候可能会有争议。"
    "保单的现金价值会随着年份慢慢增长，具体的数字在合同的现金价值表里面都有列明，您可以看一下。"
    "如果以后您的联系方式或者地址变了，记得及时通知我们，这样保单的相关通知才能送到您手上。"
)


def nodes() -> list[RenderedNode]:
    return render(load_template(TEMPLATE), POLICY)


@lru_cache(maxsize=1)
def _homophones() -> dict[str, tuple[str, ...]]:
    """Toneless syllable -> frequent single characters with it (jieba's dictionary)."""
    freq: dict[str, int] = {}
    for line in (Path(jieba.__file__).parent / "dict.txt").read_text("utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 1 and "\u4e00" <= parts[0] <= "\u9fff":
            freq[parts[0]] = int(parts[1])
    by: dict[str, list[str]] = defaultdict(list)
    for ch, f in sorted(freq.items(), key=lambda x: (-x[1], x[0])):
        if f >= 300:
            by[lazy_pinyin(ch)[0]].append(ch)
    return {k: tuple(v[:12]) for k, v in by.items()}


_NEAR_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("z", "zh"), ("c", "ch"), ("s", "sh"))
_NEAR_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"), ("an", "ang"), ("en", "eng"))


def _near(syl: str) -> str:
    for a, b in _NEAR_INITIALS:
        if syl.startswith(a) and not (len(a) == 1 and syl[:2] in ("zh", "ch", "sh")):
            return b + syl[len(a) :]
    for a, b in _NEAR_FINALS:
        if syl.endswith(a):
            return syl[: -len(a)] + b
    return syl


def asr_noise(text: str, cer: float, seed: int) -> str:
    """``text`` as a recogniser might write it: of the Han characters hit (share ``cer``),
    70% become a homophone, 20% a near-homophone, 10% are dropped."""
    rng = random.Random(seed)
    hom = _homophones()
    out = []
    for ch in text:
        r = rng.random()
        if not "\u4e00" <= ch <= "\u9fff" or r >= cer:
            out.append(ch)
            continue
        syl = lazy_pinyin(ch)[0]
        if r < 0.7 * cer:
            pool = [c for c in hom.get(syl, ()) if c != ch]
        elif r < 0.9 * cer:
            pool = [c for c in hom.get(_near(syl), ()) if c != ch]
        else:
            continue
        out.append(rng.choice(pool) if pool else ch)
    return "".join(out)


def session(
    lines: dict[str, str],
    rate: float = 4.2,
    order: list[str] | None = None,
    document_pause_s: float = 0.0,
) -> tuple[list[Utterance], list[tuple[float, str]]]:
    """Salesperson utterances saying ``lines`` (node id -> text; a node without a line is not
    said) in template order, one utterance per line at ``rate`` characters per second, 1 s
    apart (+3 s after a question, + ``document_pause_s`` after a node showing a document),
    and the teleprompter markers of the lines said."""
    t = 1.0
    utts: list[Utterance] = []
    markers: list[tuple[float, str]] = []
    for n in nodes():
        if n.id not in lines:
            continue
        text = lines[n.id]
        markers.append((round(t - 0.3, 2), n.id))
        d = len(text) / rate
        utts.append(Utterance("salesperson", round(t, 2), round(t + d, 2), text))
        t += d + 1.0 + (3.0 if n.requires_answer else 0.0)
        t += document_pause_s if n.document else 0.0
    return utts, markers


def lose(utts: list[Utterance], t0: float, t1: float) -> list[Utterance]:
    """``utts`` as a recogniser that lost ``[t0, t1]`` heard them (a window dropped as a
    loop or as low-confidence): the characters said in it are gone, the rest keep their
    times (spread evenly over each utterance)."""
    out = []
    for u in utts:
        step = (u.end_s - u.start_s) / max(1, len(u.text))
        mid = [u.start_s + (i + 0.5) * step for i in range(len(u.text))]
        for part in (
            [i for i, m in enumerate(mid) if m < t0],
            [i for i, m in enumerate(mid) if m > t1],
        ):
            if part:
                a = round(u.start_s + part[0] * step, 3)
                b = round(u.start_s + (part[-1] + 1) * step, 3)
                out.append(replace(u, start_s=a, end_s=b, text="".join(u.text[i] for i in part)))
    return out


def findings(utts: list[Utterance], markers: list[tuple[float, str]]) -> list[Finding]:
    """The script findings of a session heard as ``utts`` with teleprompter ``markers``
    (time, node id), aligned against TEMPLATE and POLICY with default thresholds."""

    class _Marker:
        def __init__(self, t: float, node: str) -> None:
            self.t_s, self.node = t, node

    th = Thresholds()
    res = align_script(
        nodes(),
        {
            "salesperson": [u for u in utts if u.participant == "salesperson"],
            "customer": [u for u in utts if u.participant == "customer"],
        },
        load_template(TEMPLATE),
        POLICY,
        [_Marker(t, n) for t, n in markers],  # type: ignore[misc]
        th,
    )
    return script_findings(res.coverage, th)
