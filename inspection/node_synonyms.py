"""Insurance words a salesperson says in other words, folded to one form by sound before a
node's content is compared (``inspection.node_content``).

A node's content key counts the template's content syllable pairs said in a stretch; an
insurer's salespeople keep the facts but not always the words: 冷静期 for 犹豫期, 退保 or 解约
for 解除合同, 签字 for 签名, 材料 for 文件, 摄像头 for 镜头. Each such word costs the key two or
three pairs, and a node said with two of them fell under the key threshold and was judged on
its slot's similarity alone (0.45-0.57 on text, where other talk in a left-out node's slot
reached 0.48). The groups are matched on folded toneless pinyin, so a homophone of a synonym
(冷静七, 签子) folds too, and each is replaced by its group's first word in both the template
and the speech.

Kept to the vocabulary of the insurance sale and of its script's plain verbs; one-character
words (买, 看) are left out: alone they are everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from inspection.textnorm import _fuzz_syllable, pinyin

#: Groups of words with one meaning in a sales script; the first is the form kept.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("犹豫期", "冷静期", "犹豫期间"),
    ("解除合同", "退保", "解约", "解除保险合同", "撤销合同"),
    ("退还", "退回", "返还", "退给", "退回给"),
    ("损失", "亏损", "吃亏"),
    ("投保", "购买", "买保险", "参保", "办理保险"),
    ("签名", "签字", "签个字", "签一下名", "签上名字"),
    ("文件", "材料", "资料", "单证"),
    ("镜头", "摄像头"),
    ("储蓄", "存款"),
    ("保费", "保险费", "交的钱"),
    ("交费", "缴费", "付费"),
    ("保险期间", "保障期间", "保障期限", "保险期限"),
    ("交费期间", "交费期", "交费年限", "缴费期间", "缴费年限"),
    ("销售人员", "业务员", "代理人", "销售员", "营销员"),
    ("执业证", "展业证", "从业证", "执业证件", "执业证书", "工作证"),
    ("认真", "仔细"),
    ("阅读", "看清楚", "看一看"),
    ("如实", "照实", "据实", "真实"),
    ("回答", "作答", "答复"),
    ("清楚", "明白", "了解", "理解"),
    ("维护", "保护", "保障"),
    ("日后", "今后", "将来", "以后"),
    ("十分", "非常", "特别"),
    ("自身", "自己"),
    ("全额", "全部"),
    ("抄写", "抄录"),
)


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]]:
    """First folded syllable of a variant -> (variant syllables, kept form's syllables),
    longest variants first; the kept form maps to itself so it is not split by a shorter
    variant of another group."""
    by: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
    for group in SYNONYMS:
        keep = tuple(pinyin(group[0], fuzzy=True))
        for word in group:
            var = tuple(pinyin(word, fuzzy=True))
            by.setdefault(var[0], []).append((var, keep))
    return {k: tuple(sorted(v, key=lambda x: -len(x[0]))) for k, v in by.items()}


def fold(text: str, syllables: Sequence[str], function_chars: frozenset[str]) -> list[str]:
    """Folded syllables of the content of ``text`` (``syllables`` its toneless pinyin, one
    per character): synonyms replaced by their group's first word, characters in
    ``function_chars`` outside them dropped."""
    table = _table()
    fz = [_fuzz_syllable(p) for p in syllables]
    out: list[str] = []
    i, n = 0, len(fz)
    while i < n:
        for var, keep in table.get(fz[i], ()):
            k = len(var)
            if tuple(fz[i : i + k]) == var:
                out.extend(keep)
                i += k
                break
        else:
            if text[i] not in function_chars:
                out.append(fz[i])
            i += 1
    return out
