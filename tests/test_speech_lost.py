"""The salesperson's lost stretches (issue 7, babble): speech with no words read after the
whole-track decode is found by time and decoded again in pieces, alone and without a prompt;
what was read is never replaced and nothing is made up where no speech was."""

from __future__ import annotations

import numpy as np
import pytest

from inspection.speech import SAMPLE_RATE, SpeechRecognizer, Utterance
from inspection.speech_lost import is_loop, is_read, lost_stretches, merged, read_mask
from models.registry import ModelRegistry
from tests.test_speech_salesperson import LINES, salesperson_track

SR = SAMPLE_RATE


def _utt(a: float, b: float, text: str, uncertain: str | None = None) -> Utterance:
    return Utterance("salesperson", a, b, text, uncertain=uncertain)


@pytest.mark.parametrize("seed", range(12))
def test_lost_stretches_are_the_unread_speech_over_random_layouts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Speech spans with gaps, utterances read over parts of them, loops and uncertain scraps
    # elsewhere (they read nothing).
    spans: list[tuple[int, int]] = []
    t = 0.0
    for _ in range(int(rng.integers(2, 6))):
        t += float(rng.uniform(0.5, 5.0))
        d = float(rng.uniform(2.0, 30.0))
        spans.append((round(t * SR), round((t + d) * SR)))
        t += d
    utts = []
    for a, b in spans:
        s = a / SR
        while s < b / SR:
            d = float(rng.uniform(0.5, 6.0))
            kind = rng.choice(["read", "gap", "loop", "unsure"])
            text = {"read": "请您确认一下", "loop": "北京北京北京北京", "unsure": "嗯"}.get(kind)
            if text:
                utts.append(_utt(s, s + d, text, "low_confidence" if kind == "unsure" else None))
            s += d
    min_s, pad = 3.0, 0.4
    out = lost_stretches(utts, spans, min_s, pad)
    read = [(u.start_s, u.end_s) for u, r in zip(utts, read_mask(utts), strict=True) if r]
    # Every stretch lies in a span, is at least min_s long, and no read words are inside it
    # beyond the padding.
    for a, b in out:
        assert any(sa <= a < b <= sb for sa, sb in spans)
        assert (b - a) / SR >= min_s - 1e-6
        core = (a / SR + pad, b / SR - pad)
        for r0, r1 in read:
            assert (
                r1 <= core[0] + pad + 1e-6
                or r0 >= core[1] - pad - 1e-6
                or (min(r1, core[1]) - max(r0, core[0]) <= 2 * pad + 1e-6)
            )
    # Every second of a span with no read words within min_s either way is in some stretch.
    for sa, sb in spans:
        for x in np.arange(sa / SR + min_s, sb / SR - min_s, 0.5):
            clear = all(r1 <= x - min_s or r0 >= x + min_s for r0, r1 in read)
            if clear:
                assert any(a / SR <= x <= b / SR for a, b in out), x
    # Stretches are disjoint and sorted.
    assert all(b0 < a1 for (_, b0), (a1, _) in zip(out, out[1:], strict=False))


def test_loops_and_uncertain_speech_read_nothing() -> None:
    assert is_loop("银行卡里的银行卡里的银行卡里的")
    assert is_loop("那一刻是吧那一刻是吧那一刻是吧")
    assert not is_loop("对对对") and not is_loop("请您在投保单上签名")
    assert not is_read(_utt(0, 5, "北京，北京，北京，北京"))
    assert not is_read(_utt(0, 5, "", "unrecognised"))
    assert not is_read(_utt(0, 5, "保险产品", "low_confidence"))
    assert is_read(_utt(0, 5, "保险产品"))
    assert not is_read(_utt(0, 5, "本次录音录下对《《《《《《《《《《《《《《《《《《《《"))


def test_merged_keeps_what_was_read_and_drops_scraps() -> None:
    utts = [
        _utt(0.0, 4.0, "我是销售人员刘洋"),
        _utt(5.0, 12.0, "那一刻是吧那一刻是吧那一刻是吧"),  # a loop: nothing read
        _utt(13.0, 16.0, "犹豫期过后退保只退现金价值"),
    ]
    # Scraps (fewer than 4 characters, loops) are no reading: nothing changes.
    scraps = [_utt(6.0, 7.0, "是吧"), _utt(8.0, 11.0, "好好好好好好好好")]
    assert merged(utts, (4.5, 12.5), scraps, 4) == utts
    found = [_utt(5.2, 11.0, "这个产品属于保险产品不是储蓄")]
    out = merged(utts, (4.5, 12.5), found, 4)
    assert [u.text for u in out] == [utts[0].text, found[0].text, utts[2].text]
    # A read utterance that reaches into the stretch stays.
    out = merged(utts, (2.0, 12.5), found, 4)
    assert utts[0] in out and utts[2] in out


@pytest.mark.slow
def test_a_lost_line_is_read_again_and_a_left_out_line_is_not_made_up() -> None:
    recognizer = SpeechRecognizer(ModelRegistry.from_env().path("whisper-base"), cpu_threads=2)
    assert "salesperson" in recognizer.options.recover_lost_for
    track, starts = salesperson_track(10.0)
    whole = recognizer.prepare_whole(track, "salesperson", 1)
    utts = recognizer.transcribe_whole(whole.samples, "salesperson")
    # The third line lost as in babble: its words gone, a loop in their place.
    lo = starts[2] - 0.2
    hi = starts[3] - 0.5
    lost = [u for u in utts if not lo <= (u.start_s + u.end_s) / 2 <= hi]
    lost.append(_utt(lo + 0.5, hi - 0.5, "北京北京北京北京北京北京"))
    lost.sort(key=lambda u: u.start_s)
    out = recognizer.recover_lost(whole.samples, "salesperson", lost, whole.spans)
    assert recognizer.counts["lost_stretches"] >= 1
    # Words read in the lost line's time again, the loop gone, what was read elsewhere kept.
    again = [u for u in out if lo <= u.start_s and u.end_s <= hi + 0.5 and is_read(u)]
    assert sum(len(u.text) for u in again) >= 10
    assert not any(is_loop(u.text.replace("，", "")) for u in out)
    assert all(u in out for u in lost if is_read(u))
    # The decode as it came: whatever it read stays (at most unread stretches are added to).
    full = recognizer.recover_lost(whole.samples, "salesperson", utts, whole.spans)
    assert all(u in full for u, r in zip(utts, read_mask(utts), strict=True) if r)
    # No speech to search: nothing decoded again.
    before = recognizer.counts["decodes"]
    assert recognizer.recover_lost(whole.samples, "salesperson", lost, []) == lost
    assert recognizer.counts["decodes"] == before
    # A line left out (no audio for it, the next line follows): no stretch, no text for it.
    cut = (round((starts[2] - 0.2) * SR), round((starts[3] - 0.5) * SR))
    shorter = np.concatenate([track[: cut[0]], track[cut[1] :]])
    w2 = recognizer.prepare_whole(shorter, "salesperson", 1)
    u2 = recognizer.transcribe_whole(w2.samples, "salesperson")
    n = recognizer.counts["lost_stretches"]
    out2 = recognizer.recover_lost(w2.samples, "salesperson", u2, w2.spans)
    if recognizer.counts["lost_stretches"] == n:
        assert out2 == u2
    text = "".join(u.text for u in out2)
    assert "身故" not in text and "全残" not in text, text  # only LINES[2] says these
    assert LINES[2]


def test_a_loop_split_into_utterances_reads_nothing() -> None:
    # The babble probe: "那就是那些" three times as three utterances, "你又不怕你" four times.
    utts = [
        _utt(0.4, 1.6, "那就是那些"),
        _utt(2.4, 3.0, "那就是那些"),
        _utt(3.0, 3.8, "那就是那些"),
        _utt(12.8, 19.4, "我叫刘阳，是恒信人寿的保险销售人员"),
        _utt(20.0, 20.5, "对对"),
        _utt(20.6, 21.0, "对对"),  # short words said twice are speech
    ]

    assert read_mask(utts) == [False, False, False, True, True, True]
    assert lost_stretches(utts, [(0, 20 * SR)], 3.0, 0.4) == [(0, round(12.8 * SR + 0.4 * SR))]


def test_the_other_partys_speech_accounts_for_its_time() -> None:
    # Quiet dev08: the customer's question (63.9-66.2 s) between two read lines of the
    # salesperson left a 3.7 s gap on the salesperson's track; it is no lost line.
    utts = [
        _utt(60.25, 63.27, "刚才讲的这些您都清楚了吗"),
        _utt(66.97, 70.69, "是十五天从您签收合同开始算"),
    ]
    spans = [(round(59.5 * SR), round(71.0 * SR))]
    assert lost_stretches(utts, spans, 3.0, 0.4) != []
    assert lost_stretches(utts, spans, 3.0, 0.4, [(63.9, 66.2)]) == []
