"""The v2 corpus generator: the frozen test split shares nothing with dev, plans are
deterministic, labels are well-formed, and the acoustic transforms do what they claim."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from inspection.report import FINDING_CODES
from inspection.templates import load_template
from tests.corpus_media import AUDIO_RATE, clip_index
from tests.corpus_v2 import acoustics
from tests.corpus_v2.acoustics import PRESETS, Network, Room, active_rms, in_room, over_network
from tests.corpus_v2.build import build_session, plan_for, spec_lines, specs
from tests.corpus_v2.combined import combined_lines
from tests.corpus_v2.documents import LAYOUTS, POSES
from tests.corpus_v2.plan import CLEAN_KINDS, KINDS, TEMPLATES_DIR
from tests.corpus_v2.wording import WORDINGS


def _fields(items: tuple[object, ...]) -> set[tuple[object, ...]]:
    """Every preset's values except its name (a renamed copy must not slip through)."""
    return {dataclasses.astuple(x)[1:] for x in items}  # type: ignore[call-overload]


def test_splits_share_no_wording_seed_or_preset() -> None:
    dev, test = WORDINGS["dev"], WORDINGS["test"]
    assert not set(dev.lines()) & set(test.lines())
    assert not set(combined_lines("dev")) & set(combined_lines("test"))
    assert not set(combined_lines("dev")) & set(test.lines())
    assert not set(combined_lines("test")) & set(dev.lines())
    assert not set(dev.fillers) & set(test.fillers)
    assert not set(dev.grammar.all()) & set(test.grammar.all())
    assert not set(dev.policies) & set(test.policies)
    dev_people = {p.customer_name for p in dev.policies.values()}
    assert not dev_people & {p.customer_name for p in test.policies.values()}
    assert dev.template_file != test.template_file
    for kind in ("voices", "rooms", "networks"):
        a, b = getattr(PRESETS["dev"], kind), getattr(PRESETS["test"], kind)
        assert not {x.name for x in a} & {x.name for x in b}
        assert not _fields(a) & _fields(b), kind
    # No single voice parameter value is reused either (speed, tempo, SNR, bit rate, loss...).
    for kind, attrs in (("voices", ("speed", "tempo")), ("rooms", ("snr_db", "rt60_s")),
                        ("networks", ("bitrate", "loss"))):  # fmt: skip
        for attr in attrs:
            a = {getattr(x, attr) for x in getattr(PRESETS["dev"], kind)}
            b = {getattr(x, attr) for x in getattr(PRESETS["test"], kind)}
            assert not a & b, (kind, attr)
    assert not _fields(LAYOUTS["dev"]) & _fields(LAYOUTS["test"])
    assert not _fields(POSES["dev"]) & _fields(POSES["test"])
    dev_seeds = {s.seed for seed in (0, 1, 6999) for s in specs("dev", seed)}
    assert not dev_seeds & {s.seed for s in specs("test")}
    with pytest.raises(ValueError):
        specs("dev", 7000)  # would reach the test split's seeds
    assert specs("test", 0) == specs("test", 5)  # frozen: the seed does not move it


def test_spoken_lines_are_paraphrases_with_committed_clips() -> None:
    index = clip_index()
    for split, w in WORDINGS.items():
        template = load_template(TEMPLATES_DIR / w.template_file)
        assert set(w.spoken) == {n.id for n in template.nodes}
        for node in template.nodes:
            for variant in w.spoken[node.id]:
                assert variant != node.text  # never the template's own words
        assert set(w.roles.values()) <= set(w.spoken)
        lines = set(w.lines()) | set(combined_lines(split))
        missing = [t for t in lines if t not in index]
        assert missing == [], split
        for spec in specs(split):
            assert set(spec_lines(spec)) <= lines


def test_plans_are_deterministic_and_labels_cover_every_kind() -> None:
    for split in ("dev", "test"):
        chosen = specs(split)
        assert {s.kind for s in chosen} == set(KINDS)
        codes: set[str] = set()
        for spec in chosen:
            p1, v1, e1 = plan_for(spec)
            p2, v2, e2 = plan_for(spec)
            assert [(b.kind, b.text, b.pause_s) for b in p1.beats] == [
                (b.kind, b.text, b.pause_s) for b in p2.beats
            ]
            assert v1.to_dict() == v2.to_dict() and e1 == e2
            assert v1.to_dict()["split"] == split
            codes |= {e["code"] for e in e1}
            assert (e1 == []) == (spec.kind in CLEAN_KINDS)
        assert codes <= set(FINDING_CODES) and len(codes) >= 10
    # Another dev seed gives another session of the same kind.
    a, b = plan_for(specs("dev", 0)[0]), plan_for(specs("dev", 1)[0])
    assert [x.text for x in a[0].beats] != [x.text for x in b[0].beats]


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * AUDIO_RATE)) / AUDIO_RATE
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)
    return x.astype(np.float32)


@pytest.mark.parametrize("kind", ["pink", "fan", "hum"])
def test_room_noise_is_at_the_requested_snr(kind: str) -> None:
    speech = _tone(4.0)
    room = Room("t", kind, 15.0, 0.2)
    rng = np.random.default_rng(1)
    mixed = in_room(speech, room, rng, [])
    # Same rng state again without noise: the difference is the noise alone.
    dry = in_room(speech, dataclasses.replace(room, snr_db=200.0), np.random.default_rng(1), [])
    snr = 20 * np.log10(active_rms(dry) / float(np.sqrt(np.mean((mixed - dry) ** 2))))
    assert snr == pytest.approx(15.0, abs=1.0)


def test_network_loses_packets_and_keeps_time() -> None:
    x = _tone(3.0)
    clean = over_network(x, Network("t", 24000, 0.0), np.random.default_rng(0))
    lossy = over_network(x, Network("t", 24000, 0.3), np.random.default_rng(0))
    assert len(clean) == len(lossy) == len(x)
    assert float(np.corrcoef(x, clean)[0, 1]) > 0.9  # aligned: no encoder delay left

    def rms(y: np.ndarray) -> np.ndarray:
        return np.sqrt(np.mean(y[: len(y) // 960 * 960].reshape(-1, 960) ** 2, axis=1))

    voiced = rms(x) > 0.1
    weak = rms(lossy) < 0.6 * rms(clean)  # a lost packet: concealed at half gain or silent
    assert voiced.sum() > 50
    assert 0.1 < (weak & voiced).sum() / voiced.sum() < 0.7


def test_voice_transform_changes_duration_by_tempo() -> None:
    text = next(iter(clip_index()))
    voice = PRESETS["test"].voices[0]
    base = acoustics.load_clip(text)
    out = acoustics.voiced_clip(text, voice)
    assert len(out) / len(base) == pytest.approx(1 / voice.tempo, rel=0.03)


def test_build_one_session(tmp_path: Path) -> None:
    spec = specs("test")[12]  # identity mismatch
    d = build_session(tmp_path, spec, fps=1.0)
    labels = json.loads((d / "labels.json").read_text("utf-8"))
    meta = json.loads((d / "metadata.json").read_text("utf-8"))
    assert labels["split"] == "test" and labels["template_path"] == "insurer_test.yaml"
    assert labels["expected_codes"] == ["face.identity_mismatch"]
    assert labels["id_card"]["face"] != labels["faces"]["customer"]
    assert 60 < labels["duration_s"] < 180
    assert meta["template_id"] == "insurer_test"
    assert {s["file"] for s in meta["segments"]} == {"salesperson-000.mkv", "customer-000.mkv"}
    variation = labels["variation"]
    assert variation["voices"]["salesperson"] != variation["voices"]["customer"]
    assert all(v.startswith("test-") for v in variation["rooms"].values())
    spoken = [b for b in labels["timeline"] if b["text"]]
    assert all(a["end_s"] <= b["start_s"] for a, b in zip(spoken, spoken[1:], strict=False))
