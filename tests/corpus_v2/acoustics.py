"""Voices, rooms and networks for the v2 corpus: what turns one clean TTS voice into many calls.

* voice: speed (asetrate-style resampling: pitch and formants move together) then tempo
  (FFmpeg's ``atempo``, through PyAV) and a microphone colour (first-order tilt);
* room: synthetic reverb (exponentially decaying noise impulse response) and noise at a
  set SNR against the active speech level (pink, fan, mains hum, reversed-speech babble);
* network: Opus at a low bit rate with whole 20 ms packets lost (crude concealment).

Each split draws from its own named presets (:data:`PRESETS`); no value is shared, which
tests/test_make_corpus_v2.py checks. Pure numpy + PyAV, deterministic for a given rng.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from tests.corpus_media import AUDIO_RATE, load_clip

FRAME = 960  # 20 ms at 48 kHz, one Opus packet
OPUS_PRESKIP = 312  # libopus's encoder look-ahead at 48 kHz (decoded output starts late)


@dataclass(frozen=True)
class Voice:
    name: str
    speed: float  # > 1: higher pitch and formants, shorter
    tempo: float  # > 1: faster speech at the same pitch
    tilt: float  # -0.9..0.9: negative darkens (low-pass), positive brightens


@dataclass(frozen=True)
class Room:
    name: str
    noise: str  # "pink" | "fan" | "hum" | "babble"
    snr_db: float
    rt60_s: float


@dataclass(frozen=True)
class Network:
    name: str
    bitrate: int
    loss: float  # fraction of 20 ms packets lost


@dataclass(frozen=True)
class Presets:
    voices: tuple[Voice, ...]
    rooms: tuple[Room, ...]
    networks: tuple[Network, ...]


PRESETS: dict[str, Presets] = {
    "dev": Presets(
        voices=(
            Voice("dev-v1", 0.95, 1.05, -0.3),
            Voice("dev-v2", 0.86, 0.97, -0.5),
            Voice("dev-v3", 1.07, 0.93, 0.2),
            Voice("dev-v4", 1.0, 0.9, 0.0),
        ),
        rooms=(
            Room("dev-r1", "pink", 25.0, 0.25),
            Room("dev-r2", "fan", 17.0, 0.45),
            Room("dev-r3", "pink", 12.0, 0.35),
            Room("dev-r4", "fan", 22.0, 0.2),
        ),
        networks=(
            Network("dev-n1", 32000, 0.01),
            Network("dev-n2", 24000, 0.03),
            Network("dev-n3", 18000, 0.01),
        ),
    ),
    "test": Presets(
        voices=(
            Voice("test-v1", 0.82, 1.1, -0.6),
            Voice("test-v2", 0.91, 0.88, 0.3),
            Voice("test-v3", 1.1, 1.02, -0.2),
            Voice("test-v4", 1.04, 1.12, 0.4),
        ),
        rooms=(
            Room("test-r1", "babble", 20.0, 0.3),
            Room("test-r2", "hum", 15.0, 0.55),
            Room("test-r3", "babble", 10.0, 0.4),
            Room("test-r4", "hum", 24.0, 0.15),
        ),
        networks=(
            Network("test-n1", 16000, 0.02),
            Network("test-n2", 20000, 0.05),
            Network("test-n3", 28000, 0.04),
        ),
    ),
}


# ------------------------------------------------------------------------------------------
# Voice


def _resample(x: np.ndarray, factor: float) -> np.ndarray:
    """Play ``x`` ``factor`` times faster (linear interpolation; shifts < 20% alias little)."""
    n = int(round(len(x) / factor))
    played: np.ndarray = np.interp(np.arange(n) * factor, np.arange(len(x)), x).astype(np.float32)
    return played


def atempo(x: np.ndarray, factor: float) -> np.ndarray:
    """Change tempo by ``factor`` keeping pitch (FFmpeg atempo, WSOLA)."""
    if abs(factor - 1.0) < 1e-3:
        return x.astype(np.float32)
    graph = av.filter.Graph()
    src = graph.add_abuffer(
        format="flt", sample_rate=AUDIO_RATE, layout="mono", time_base=Fraction(1, AUDIO_RATE)
    )
    node = graph.add("atempo", f"{factor:.4f}")
    sink = graph.add("abuffersink")
    src.link_to(node)
    node.link_to(sink)
    graph.configure()
    out: list[np.ndarray] = []

    def drain() -> None:
        while True:
            try:
                out.append(graph.pull().to_ndarray().reshape(-1))
            except (av.BlockingIOError, av.EOFError):
                return

    for i in range(0, len(x), FRAME):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(x[i : i + FRAME], np.float32).reshape(1, -1),
            format="flt",
            layout="mono",
        )
        frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, i, Fraction(1, AUDIO_RATE)
        graph.push(frame)
        drain()
    graph.push(None)
    drain()
    return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


def _tilt(x: np.ndarray, amount: float) -> np.ndarray:
    """First-order-like spectral tilt: mix the signal with a 4-tap moving average of itself."""
    if amount == 0.0:
        return x
    lp = np.convolve(x, np.full(4, 0.25, np.float32), mode="same")
    y = x + amount * (x - lp) if amount > 0 else (1 + amount) * x - amount * lp
    peak = float(np.abs(y).max()) or 1.0
    return (y * min(1.0, 0.7 / peak)).astype(np.float32)


@functools.cache
def voiced_clip(text: str, voice: Voice) -> np.ndarray:
    """The TTS clip for ``text`` spoken in ``voice`` (48 kHz float32, cached, read-only)."""
    x = _resample(np.asarray(load_clip(text)), voice.speed)
    x = atempo(x, voice.tempo / voice.speed)  # duration: original / tempo
    x = _tilt(x, voice.tilt)
    x.setflags(write=False)
    return x


def voiced_seconds(text: str, voice: Voice) -> float:
    """How long ``text`` lasts spoken in ``voice``."""
    return len(voiced_clip(text, voice)) / AUDIO_RATE


# ------------------------------------------------------------------------------------------
# Room


def impulse_response(rt60_s: float, rng: np.random.Generator) -> np.ndarray:
    """Direct path + early reflections + exponentially decaying diffuse tail."""
    n = int(rt60_s * AUDIO_RATE)
    t = np.arange(n) / AUDIO_RATE
    tail = rng.normal(0, 1, n) * np.exp(-6.9 * t / rt60_s)  # -60 dB at rt60
    tail[: int(0.005 * AUDIO_RATE)] = 0.0
    ir = 0.25 * tail / (np.sqrt(np.sum(tail**2)) or 1.0)
    ir[0] = 1.0
    for _ in range(4):
        ir[int(rng.uniform(0.002, 0.02) * AUDIO_RATE)] += float(rng.uniform(0.2, 0.5))
    normalised: np.ndarray = (ir / np.sqrt(np.sum(ir**2))).astype(np.float32)
    return normalised


def convolve(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    n = len(x) + len(ir) - 1
    size = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[: len(x)]
    return y.astype(np.float32)


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    size = 1 << max(0, n - 1).bit_length()  # a power of two: FFTs of odd lengths are slow
    spec = np.fft.rfft(rng.normal(0, 1, size))
    f = np.arange(len(spec), dtype=np.float64)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = np.fft.irfft(spec, size)[:n]
    return (x / (np.std(x) or 1.0)).astype(np.float32)


def noise(kind: str, n: int, rng: np.random.Generator, babble_texts: list[str]) -> np.ndarray:
    """``n`` samples of unit-RMS noise of ``kind``."""
    t = np.arange(n) / AUDIO_RATE
    if kind == "pink":
        x = _pink(n, rng)
    elif kind == "fan":  # broadband whoosh + blade-pass tone with slow wobble
        x = _pink(n, rng) + 0.2 * rng.normal(0, 1, n).astype(np.float32)
        x += 0.5 * np.sin(2 * np.pi * 117 * t * (1 + 0.002 * np.sin(0.7 * t)))
    elif kind == "hum":  # mains hum with harmonics over a little pink noise
        hum = sum(np.sin(2 * np.pi * 50 * k * t + k) / k for k in (1, 2, 3, 5))
        x = 0.7 * np.asarray(hum, np.float32) + 0.5 * _pink(n, rng)
    elif kind == "babble":  # several reversed voices at random offsets: speech-like, no words
        x = np.zeros(n, np.float32)
        for _ in range(6):
            pos = int(rng.integers(0, 2 * AUDIO_RATE))
            while pos < n:
                clip = load_clip(str(rng.choice(babble_texts)))[::-1]
                clip = _resample(np.asarray(clip), float(rng.uniform(0.8, 1.15)))
                j = min(n, pos + len(clip))
                x[pos:j] += clip[: j - pos]
                pos = j + int(rng.integers(0, AUDIO_RATE // 2))
    else:
        raise ValueError(kind)
    x = np.asarray(x, np.float32)
    return x / (float(np.sqrt(np.mean(x**2))) or 1.0)


def active_rms(speech: np.ndarray) -> float:
    """RMS over the 20 ms frames within 30 dB of the loudest (the active speech level)."""
    frames = speech[: len(speech) // FRAME * FRAME].reshape(-1, FRAME)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    if not len(rms) or rms.max() <= 0:
        return 0.0
    return float(np.sqrt(np.mean(rms[rms > rms.max() * 10 ** (-30 / 20)] ** 2)))


def in_room(
    speech: np.ndarray, room: Room, rng: np.random.Generator, babble_texts: list[str]
) -> np.ndarray:
    """Reverberant speech plus noise at ``room.snr_db`` against the active speech level."""
    level = active_rms(speech)
    wet = convolve(speech, impulse_response(room.rt60_s, rng))
    wet *= level / (active_rms(wet) or 1.0)
    if level > 0:
        wet += noise(room.noise, len(wet), rng, babble_texts) * level / 10 ** (room.snr_db / 20)
    return wet


# ------------------------------------------------------------------------------------------
# Network


def over_network(x: np.ndarray, net: Network, rng: np.random.Generator) -> np.ndarray:
    """Opus-encode at ``net.bitrate``, lose ``net.loss`` of the packets, decode.

    A lost packet is concealed by repeating the previous 20 ms at half gain (then silence for
    a run of losses), roughly what a jitter buffer without FEC does. Output length = input.
    """
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = AUDIO_RATE, "mono", "flt", net.bitrate
    dec = av.CodecContext.create("libopus", "r")
    dec.sample_rate, dec.layout = AUDIO_RATE, "mono"
    pad = np.concatenate([x, np.zeros((-len(x)) % FRAME + FRAME, np.float32)])
    packets = []
    for i in range(0, len(pad), FRAME):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(pad[i : i + FRAME]).reshape(1, -1), format="flt", layout="mono"
        )
        frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, i, Fraction(1, AUDIO_RATE)
        packets += enc.encode(frame)
    packets += enc.encode(None)
    out: list[np.ndarray] = []
    last = np.zeros(FRAME, np.float32)
    run = 0
    for pkt in packets:
        if rng.random() < net.loss:
            run += 1
            out.append(last * 0.5 if run == 1 else np.zeros(FRAME, np.float32))
            continue
        run = 0
        for f in dec.decode(pkt):
            last = f.to_ndarray().reshape(-1).astype(np.float32)
            if last.dtype != np.float32 or f.format.name not in ("flt", "fltp"):
                last = last / 32768.0
            out.append(last)
    y = np.concatenate(out) if out else np.zeros(0, np.float32)
    y = y[OPUS_PRESKIP : OPUS_PRESKIP + len(x)]
    return np.concatenate([y, np.zeros(len(x) - len(y), np.float32)]) if len(y) < len(x) else y
