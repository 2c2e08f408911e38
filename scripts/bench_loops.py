"""Media the benchmark peers replay, encoded once: 640x480@30 VP8 and Opus tone loops
(cached on disk), and Opus loops of a ~60 s stretch of a call spoken by committed TTS clips."""

from __future__ import annotations

import pickle
import sys
import time
from pathlib import Path
from typing import Any

from server.rtc.client import (
    AUDIO_RATE,
    AUDIO_SAMPLES,
    EncodedLoop,
    MediaTimeline,
    encode_audio_loop,
    encode_video_loop,
)

ROLES = ("salesperson", "customer")


def load_or_encode_loops(cache: Path) -> dict[str, EncodedLoop]:
    """640x480@30 VP8 (keyframe every 2 s) and Opus, 4 s each; encoded once, then cached."""
    if cache.exists():
        loaded: dict[str, EncodedLoop] = pickle.loads(cache.read_bytes())
        return loaded
    timeline = MediaTimeline()
    t = time.monotonic()
    loops = {
        "video": encode_video_loop("salesperson", 4.0, (640, 480), 30, 60, timeline),
        "audio": encode_audio_loop(4.0, timeline),
    }
    print(f"pre-encoded 4 s loops in {time.monotonic() - t:.1f} s", file=sys.stderr)
    cache.write_bytes(pickle.dumps(loops))
    return loops


# A ~60 s stretch of a call (traditional_life, policy a), salesperson and customer on one
# timeline: (start s, role, line). The ID-card node makes the live checks OCR frames.
SPEECH_SCRIPT = [
    (0.5, "salesperson", "您好，为了保障您的合法权益，本次投保过程将进行全程录音录像，请问您是否同意？"),
    (9.0, "customer", "好的，我同意"),
    (11.5, "salesperson", "如果您在犹豫期后解除合同，保险公司只退还保单的现金价值，您可能会遭受一定的损失。"),
    (20.0, "salesperson", "本产品有15天的犹豫期，自您签收保险合同之日起计算。在犹豫期内您可以解除合同，保险公司将退还您已交的全部保费。"),
    (32.0, "salesperson", "以上内容您是否已经清楚并理解？"),
    (35.5, "customer", "好的，我清楚了"),
    (38.0, "salesperson", "请您将身份证正面对准镜头，并确认是您本人投保，对吗？"),
    (44.5, "customer", "是的，我同意"),
    (47.0, "salesperson", "请您仔细阅读保险条款中的责任免除部分，对于责任免除条款中列明的情形，保险公司不承担保险责任。"),
]  # fmt: skip
SPEECH_LOOP_S = 60.0


def encode_speech_loops() -> dict[str, EncodedLoop]:
    """Opus loops of SPEECH_SCRIPT per role (committed TTS clips; test data only)."""
    import av
    import numpy as np

    from server.rtc.speech_track import SpeechAudioTrack
    from tests.corpus_media import load_clip

    out = {}
    for role in ROLES:
        lines = [(t, load_clip(text)) for t, who, text in SPEECH_SCRIPT if who == role]
        track = SpeechAudioTrack(MediaTimeline(), lines, loop_s=SPEECH_LOOP_S)
        ctx: Any = av.CodecContext.create("libopus", "w")
        ctx.sample_rate, ctx.layout, ctx.format = AUDIO_RATE, "mono", "s16"
        ctx.bit_rate = 32000
        packets: list[bytes] = []
        for k in range(round(SPEECH_LOOP_S * AUDIO_RATE / AUDIO_SAMPLES)):
            pcm = np.clip(track.samples_at(k * AUDIO_SAMPLES), -1, 1)
            frame = av.AudioFrame.from_ndarray(
                (pcm * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts = AUDIO_RATE, k * AUDIO_SAMPLES
            packets += [bytes(p) for p in ctx.encode(frame)]
        out[f"audio_{role}"] = EncodedLoop("audio", packets, AUDIO_SAMPLES, AUDIO_RATE)
    return out
