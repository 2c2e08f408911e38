"""Live checks (inspection.live): committed TTS clips fed in 0.5 s chunks, as the live worker
feeds decoded call audio, through real Whisper base and the offline script checks."""

from __future__ import annotations

import numpy as np
import pytest

from inspection.live import LiveChecker, LiveConfig
from inspection.pipeline import Inspector
from inspection.rules import Thresholds
from inspection.speech import SAMPLE_RATE
from inspection.templates import load_template, render
from models.registry import ModelRegistry
from tests.corpus_media import AUDIO_RATE, load_clip
from tests.corpus_policies import base_policies

CONSENT = "您好，为了保障您的合法权益，本次投保过程将进行全程录音录像，请问您是否同意？"
COOLING_10 = (
    "本产品有10天的犹豫期，自您签收保险合同之日起计算。在犹豫期内您可以解除合同，"
    "保险公司将退还您已交的全部保费。"
)
UNDERSTOOD = "以上内容您是否已经清楚并理解？"


def _16k(text: str) -> np.ndarray:
    audio = load_clip(text)
    return np.asarray(audio[:: AUDIO_RATE // SAMPLE_RATE], dtype=np.float32)


def feed(checker: LiveChecker, lines: list[tuple[str, str]], gap_s: float = 1.5) -> None:
    """Both participants' audio on one timeline, each in 0.5 s chunks (silence between)."""
    t = 0.0
    chunk = SAMPLE_RATE // 2
    tone = np.random.default_rng(0)
    for who, text in lines:
        audio = np.concatenate([_16k(text), np.zeros(round(gap_s * SAMPLE_RATE), np.float32)])
        other = "customer" if who == "salesperson" else "salesperson"
        for i in range(0, len(audio), chunk):
            piece = audio[i : i + chunk]
            checker.feed_audio(who, t + i / SAMPLE_RATE, piece)
            quiet = (tone.standard_normal(len(piece)) * 0.001).astype(np.float32)
            checker.feed_audio(other, t + i / SAMPLE_RATE, quiet)
        t += len(audio) / SAMPLE_RATE
    checker.now_s = t


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector(ModelRegistry.from_env(), Thresholds(asr_beam_size=1), threads=2)


@pytest.mark.slow
def test_spoken_nodes_answers_and_a_wrong_number(inspector: Inspector) -> None:
    policy = base_policies()["a"]  # 15 days of cooling-off
    template = load_template("traditional_life")
    nodes = render(template, policy)
    checker = LiveChecker(
        nodes, template, policy, lambda: inspector.speech, thresholds=inspector.thresholds,
        config=LiveConfig(),
    )  # fmt: skip
    feed(
        checker,
        [
            ("salesperson", CONSENT),
            ("customer", "好的，我同意"),
            ("salesperson", COOLING_10),
            ("salesperson", UNDERSTOOD),
            ("customer", "我不清楚"),
        ],
    )
    state = checker.state()
    by_id = {n["id"]: n for n in state["nodes"]}
    assert by_id["consent"]["status"] == "covered"
    assert by_id["consent"]["answer"] == "affirmative"
    assert by_id["cooling_off"]["status"] == "covered"
    assert by_id["confirm_understood"]["answer"] == "negative"
    assert by_id["reminder"]["status"] in ("pending", "too_different")
    mismatch = [w for w in state["warnings"] if w["code"] == "speech.number_mismatch"]
    assert mismatch and mismatch[0]["spoken"] == 10 and mismatch[0]["expected"] == 15
    missing = {(m["node"], m["why"]) for m in state["missing"]}
    assert ("reminder", "not_covered") in missing
    assert ("confirm_understood", "answer") in missing
    assert ("id_card", "document") in missing
    assert ("consent", "answer") not in missing


def test_silence_only_recognises_nothing_and_warns_when_long() -> None:
    policy = base_policies()["a"]
    template = load_template("traditional_life")

    def no_model() -> object:
        raise AssertionError("silence must not reach the recogniser")

    checker = LiveChecker(
        render(template, policy), template, policy, no_model,  # type: ignore[arg-type]
        config=LiveConfig(silent_warn_s=5.0),
    )  # fmt: skip
    for k in range(20):
        checker.feed_audio("customer", k * 0.5, np.zeros(SAMPLE_RATE // 2, np.float32))
    warnings = checker.state()["warnings"]
    assert [w["code"] for w in warnings] == ["media.silent"]
    assert warnings[0]["participant"] == "customer" and warnings[0]["active"]


def test_names_read_live_are_masked() -> None:
    from inspection.live_vision import mask_name

    assert (mask_name("李明华"), mask_name("陈静"), mask_name("欧阳明月")) == (
        "李*华",
        "陈*",
        "欧**月",
    )
    assert mask_name(None) is None and mask_name("") is None


@pytest.mark.slow
def test_id_card_prompt_until_a_card_is_read(inspector: Inspector) -> None:
    from tests.render import place_in_frame, render_id_card

    policy = base_policies()["a"]
    template = load_template("traditional_life")
    checker = LiveChecker(
        render(template, policy), template, policy, lambda: inspector.speech,
        faces=lambda: inspector.faces, ocr=lambda: inspector.ocr, thresholds=inspector.thresholds,
    )  # fmt: skip
    checker.add_marker(1.0, "id_card")
    blank = np.full((480, 640, 3), 90, np.uint8)
    checker.feed_frame("customer", 2.0, blank)
    (doc,) = [d for d in checker.state()["documents"] if d["document"] == "id_card"]
    assert doc["status"] == "prompt"
    assert "show_id_card" in checker.state()["customer_prompts"]
    card = place_in_frame(render_id_card(policy.customer_name, policy.customer_id_number))
    checker.feed_frame("customer", 4.5, card)
    (doc,) = [d for d in checker.state()["documents"] if d["document"] == "id_card"]
    assert doc["status"] == "seen" and doc["id_valid"]
    assert doc["name"] == "李*华"
    assert (
        doc["id_number"]
        == policy.customer_id_number[:4] + "*" * 10 + policy.customer_id_number[-4:]
    )
    assert "show_id_card" not in checker.state()["customer_prompts"]
