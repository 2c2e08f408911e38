"""Media findings: audio and video quality, recording gaps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inspection.report import Finding, Participant
from inspection.rules.common import PARTICIPANT_CN, PARTICIPANT_EN, r3
from inspection.rules.evidence import AudioLevels, FrameStats, Gap
from inspection.rules.thresholds import Thresholds


def audio_findings(levels: AudioLevels, th: Thresholds) -> list[Finding]:
    """media.quality for a silent, too quiet or clipped audio track."""
    who = PARTICIPANT_CN[levels.participant]
    ev: dict[str, Any] = {
        "rule": "R14",
        "kind": "audio",
        "scores": {
            "speech_dbfs": r3(levels.speech_dbfs),
            "clipped_share": r3(levels.clipped_share),
            "snr_db": r3(levels.snr_db),
        },
        "threshold": {
            "audio_silence_dbfs": th.audio_silence_dbfs,
            "audio_quiet_dbfs": th.audio_quiet_dbfs,
            "audio_clipped_share": th.audio_clipped_share,
            "audio_min_snr_db": th.audio_min_snr_db,
        },
    }
    who_en = PARTICIPANT_EN[levels.participant]
    msgs: list[tuple[str, str]] = []
    if levels.speech_dbfs is None:
        msgs.append((f"{who}音频全程无声", f"{who_en}'s audio is silent throughout"))
    elif levels.speech_dbfs < th.audio_quiet_dbfs:
        msgs.append(
            (
                f"{who}音量过低（{levels.speech_dbfs:.0f} dBFS）",
                f"{who_en}'s audio is too quiet ({levels.speech_dbfs:.0f} dBFS)",
            )
        )
    if levels.snr_db is not None and levels.snr_db < th.audio_min_snr_db:
        msgs.append(
            (
                f"{who}语音被噪声淹没（仅高出噪声 {levels.snr_db:.0f} dB）",
                f"{who_en}'s speech is drowned in noise (only {levels.snr_db:.0f} dB above it)",
            )
        )
    if levels.clipped_share > th.audio_clipped_share:
        msgs.append(
            (
                f"{who}音频削波失真（{levels.clipped_share:.1%} 的采样）",
                f"{who_en}'s audio is clipped ({levels.clipped_share:.1%} of samples)",
            )
        )
    return [
        Finding(
            code="media.quality",
            severity="review",
            message=m,
            message_en=m_en,
            participant=levels.participant,
            start_s=0.0,
            end_s=round(levels.duration_s, 3),
            evidence=ev,
        )
        for m, m_en in msgs
    ]


def video_findings(
    participant: Participant, frames: Sequence[FrameStats], th: Thresholds
) -> list[Finding]:
    """media.quality when too many sampled frames are dark or blurred."""
    if not frames:
        return []
    out = []
    who = PARTICIPANT_CN[participant]
    checks = (
        (
            "dark",
            [f for f in frames if f.mean_luma < th.dark_luma],
            ("画面过暗", "video is too dark"),
            {"dark_luma": th.dark_luma},
        ),
        (
            "blurred",
            [f for f in frames if f.mean_luma >= th.dark_luma and f.sharpness < th.blur_laplacian],
            ("画面模糊", "video is blurred"),
            {"blur_laplacian": th.blur_laplacian},
        ),
    )
    for kind, bad, label, limit in checks:
        share = len(bad) / len(frames)
        if share <= th.bad_frames_share:
            continue
        worst = min(bad, key=lambda f: f.mean_luma if kind == "dark" else f.sharpness)
        out.append(
            Finding(
                code="media.quality",
                severity="review",
                message=f"{who}{label[0]}（{share:.0%} 的抽样画面）",
                message_en=f"{PARTICIPANT_EN[participant]}'s {label[1]} ({share:.0%} of sampled frames)",
                participant=participant,
                start_s=round(bad[0].t_s, 3),
                end_s=round(bad[-1].t_s, 3),
                evidence={
                    "rule": "R14",
                    "kind": kind,
                    "scores": {"bad_share": round(share, 3), "frames": len(frames)},
                    "threshold": {**limit, "bad_frames_share": th.bad_frames_share},
                    "frame_t_s": worst.t_s,
                },
            )
        )
    return out


def gap_findings(gaps: Sequence[Gap], th: Thresholds) -> list[Finding]:
    """media.gap for each interruption longer than ``max_gap_s``, and for each stretch a
    file lost after it was recorded (``Gap.cause`` "file_changed")."""
    return [_gap_finding(g, th) for g in gaps if g.duration_s > th.max_gap_s]


def _gap_finding(g: Gap, th: Thresholds) -> Finding:
    who_cn, who_en = PARTICIPANT_CN[g.participant], PARTICIPANT_EN[g.participant]
    span = f"{g.start_s:.1f}–{g.end_s:.1f}"
    message = f"{who_cn}录制中断 {g.duration_s:.1f} 秒（{span} 秒）"
    message_en = f"{who_en}'s recording was interrupted for {g.duration_s:.1f} s ({span} s)"
    if g.cause == "file_changed":
        message = (
            f"{who_cn}录制文件与录制时记录的大小不符，{span} 秒的内容缺失"
            f"（文件 {g.detail.get('file')}）"
        )
        message_en = (
            f"{who_en}'s recording file is not the size recorded; {span} s of it is missing "
            f"(file {g.detail.get('file')})"
        )
    return Finding(
        code="media.gap",
        severity="review",
        message=message,
        message_en=message_en,
        participant=g.participant,
        start_s=round(g.start_s, 3),
        end_s=round(g.end_s, 3),
        evidence={
            "rule": "R16",
            "gap_s": round(g.duration_s, 3),
            "threshold": {"max_gap_s": th.max_gap_s},
            **({"cause": g.cause, **g.detail} if g.cause else {}),
        },
    )
