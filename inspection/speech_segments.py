"""From faster-whisper segments to utterances: garbage tokens removed, spurious segments
(repetition, invented subtitle text, too fast, low confidence) dropped or, for participants
whose speech must never vanish, kept and marked uncertain; segments split at long pauses.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np

from inspection.speech_types import DecodeOptions, Utterance, Word
from inspection.textnorm import normalize, to_simplified

#: Full-width Latin letters and digits: Whisper emits them (with a prompt) where there was
#: punctuation or an answer it could not read; Mandarin speech never comes out like that.
FULLWIDTH_ALNUM = re.compile(r"[０-９Ａ-Ｚａ-ｚ]")
# A full-width digit run that touches a numeral or a unit may be a real number ("１５天").
_GARBAGE_RUN = re.compile(
    r"(?<![0-9０-９零一二三四五六七八九十百千万亿点.．])[０-９]+"
    r"(?![0-9０-９十百千万亿天元年月岁期个%％点.．])|[Ａ-Ｚａ-ｚ]+"
)

#: Text Whisper is known to invent on silence or noise (video-subtitle credits); never speech here.
HALLUCINATION_MARKERS: tuple[str, ...] = (
    "点赞",
    "订阅",
    "转发",
    "打赏",
    "字幕",
    "amara",
    "明镜",
    "独播剧场",
    "请不吝",
    "感谢观看",
    "谢谢观看",
    "下次见",  # "大家，下次见" + "拜拜": invented on babble between two answers
)


def clean_tokens(text: str) -> str:
    """``text`` without the full-width letters/digits Whisper puts for punctuation ("好的４我
    清楚" → "好的，我清楚"); a real full-width number next to its unit ("１５天") is kept."""
    out = _GARBAGE_RUN.sub("，", text)
    return out.strip("，") if out != text else text


def spurious_reason(seg: Any, options: DecodeOptions) -> str | None:
    """Why a decoded segment is not trustworthy speech (see the DecodeOptions post-filters),
    or None when it is."""
    text = normalize(to_simplified(clean_tokens(seg.text)))
    if not text:
        return "unrecognised"
    if is_hallucination(text):
        return "hallucination"
    if seg.compression_ratio > options.max_compression_ratio:
        return "repetition"
    duration = max(float(seg.end) - float(seg.start), 0.1)
    if len(text) / duration > options.max_chars_per_s and len(text) > 3:
        return "too_fast"
    words = seg.words or []
    mean_p = float(np.mean([w.probability for w in words])) if words else 1.0
    if seg.no_speech_prob > options.drop_no_speech_prob and mean_p < options.drop_word_probability:
        return "low_confidence"
    if mean_p < options.min_word_probability:
        return "low_confidence"
    return None


def is_spurious(seg: Any, options: DecodeOptions) -> bool:
    """True for a decoded segment that is not trustworthy speech."""
    return spurious_reason(seg, options) is not None


def to_utterances(
    segments: Iterable[Any], participant: str, offset_s: float, options: DecodeOptions
) -> list[Utterance]:
    keep = participant in options.keep_uncertain
    kept = [
        (seg, reason)
        for seg in segments
        if (reason := spurious_reason(seg, options)) is None or keep
    ]
    out: list[Utterance] = []
    for k, (seg, reason) in enumerate(kept):
        nxt = kept[k + 1][0] if k + 1 < len(kept) else None
        utt = _utterance(seg, nxt, participant, offset_s)
        if reason is not None:
            # Kept so that no customer speech disappears silently; the rules decide.
            utt = _uncertain(utt, seg, participant, offset_s, reason)
        if utt is None:
            continue
        for piece in split_at_pauses(utt, options.split_pause_s):
            # Judged again once split: a lone word at p 0.02 cut off from a real answer by a
            # pause is junk even when the segment as a whole looked sure.
            if piece.uncertain is None and piece.words:
                mean_p = float(np.mean([w.probability for w in piece.words]))
                if mean_p < options.min_word_probability:
                    if not keep:
                        continue
                    piece = replace(piece, uncertain="low_confidence")
            out.append(piece)
    return out


def _uncertain(
    utt: Utterance | None, seg: Any, participant: str, offset_s: float, reason: str
) -> Utterance:
    if utt is None:  # nothing readable: speech was there, its words were not recognised
        return Utterance(
            participant=participant,
            start_s=round(offset_s + float(seg.start), 3),
            end_s=round(offset_s + float(seg.end), 3),
            text="",
            avg_logprob=float(seg.avg_logprob),
            no_speech_prob=float(seg.no_speech_prob),
            uncertain="unrecognised",
        )
    return replace(utt, uncertain=reason)


def split_at_pauses(utt: Utterance, pause_s: float) -> list[Utterance]:
    """Split an utterance where its words are more than ``pause_s`` apart.

    VAD joins speech chunks before decoding, so one segment can hold answers given a minute
    apart ("是的，我同意" ... "好的，我清楚了"); each becomes its own utterance.
    """
    if not utt.words:
        return [utt]
    groups: list[list[Word]] = [[utt.words[0]]]
    for prev, w in itertools.pairwise(utt.words):
        if w.start_s - prev.end_s > pause_s:
            groups.append([])
        groups[-1].append(w)
    if len(groups) == 1:
        return [utt]
    return [
        replace(
            utt,
            start_s=g[0].start_s,
            end_s=g[-1].end_s,
            text="".join(w.text for w in g),
            words=g,
        )
        for g in groups
    ]


def _utterance(seg: Any, nxt: Any, participant: str, offset_s: float) -> Utterance | None:
    words = [
        Word(
            start_s=round(offset_s + float(w.start), 3),
            end_s=round(offset_s + float(w.end), 3),
            text=to_simplified(clean_tokens(w.word)).strip(),
            probability=float(w.probability),
        )
        for w in (seg.words or [])
        if clean_tokens(w.word).strip()
    ]
    if words:
        words += _untimed_tail(seg, words, nxt, offset_s)
        text = "".join(w.text for w in words)
    else:
        text = to_simplified(clean_tokens(seg.text)).strip()
    if not normalize(text):
        return None
    return Utterance(
        participant=participant,
        start_s=round(offset_s + float(seg.start), 3),
        end_s=max(round(offset_s + float(seg.end), 3), words[-1].end_s if words else 0.0),
        text=text,
        words=words,
        avg_logprob=float(seg.avg_logprob),
        no_speech_prob=float(seg.no_speech_prob),
    )


def _untimed_tail(seg: Any, words: list[Word], nxt: Any, offset_s: float) -> list[Word]:
    """Text of ``seg`` past its last word, as one estimated word, unless ``nxt`` repeats it.

    faster-whisper's word list can stop at a token that splits a character while the segment
    text goes on; the next segment then usually starts with that rest again, with times
    (seen: "...免责条款�请问您是否清楚" then "请问您是否清楚").
    """
    said = normalize("".join(w.text for w in words))
    full = normalize(to_simplified(clean_tokens(seg.text)))
    if len(full) <= len(said) or not full.startswith(said[: max(1, len(said) - 2)]):
        return []
    rest = full[len(said) :]
    if nxt is not None:
        head = normalize(to_simplified(clean_tokens(nxt.text)))[: min(4, len(rest))]
        if head and head in rest:
            rest = rest[: rest.index(head)]
    if not rest:
        return []
    start = words[-1].end_s
    end = start + 0.3 * len(rest)  # ~3.3 characters per second
    if nxt is not None:
        end = min(end, max(start, round(offset_s + float(nxt.start), 3)))
    prob = float(np.exp(seg.avg_logprob))
    return [Word(start_s=start, end_s=round(end, 3), text=rest, probability=prob)]


def is_hallucination(text: str, markers: tuple[str, ...] = HALLUCINATION_MARKERS) -> bool:
    """True for subtitle-credit text Whisper invents on silence ("请不吝点赞 订阅 转发"): two
    markers, or one that makes up a third of the text. A script line can hold one by
    mishearing: dev03's reminder "本次录音录像…如实回答" decoded as "本字幕音錄相對…" was dropped
    whole, and the reminder node went missing."""
    norm = normalize(text)
    hits = [m for m in markers if m in norm]
    return len(hits) >= 2 or (bool(hits) and 3 * sum(len(m) for m in hits) >= len(norm))


def transcript_text(utterances: Iterable[Utterance]) -> str:
    """All utterance texts joined, for CER measurement and display."""
    return "".join(u.text for u in utterances)
