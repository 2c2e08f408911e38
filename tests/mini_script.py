"""The mini template (tests/data/templates/mini.yaml), a policy for it, and hand-made
utterances of it: what the speech stage would hand the script stage, one word per character
at an even pace."""

from __future__ import annotations

from pathlib import Path

from inspection.policy import Policy
from inspection.speech import Utterance, Word

MINI = Path(__file__).parent / "data" / "templates" / "mini.yaml"
POLICY = Policy(
    customer_name="李明华",
    customer_id_number="11010519491231002X",
    product_name="安康定期寿险",
    premium=12000,
)


def said(who: str, text: str, t0: float, t1: float, p: float = 0.9) -> Utterance:
    """``text`` said by ``who`` from ``t0`` to ``t1``, every character a word of
    probability ``p``."""
    chars = [c for c in text if c.strip()]
    step = (t1 - t0) / len(chars)
    words = [
        Word(round(t0 + i * step, 3), round(t0 + (i + 1) * step, 3), c, p)
        for i, c in enumerate(chars)
    ]
    return Utterance(who, t0, t1, text, words, -0.2, 0.01)


def mini_sales(premium: str = "一万二千元") -> list[Utterance]:
    """The salesperson reading the mini script's four nodes, ending at 24 s: consent
    question (ends 6 s), reminder (8-14 s), premium and cooling-off days, ID and 清楚."""
    return [
        said("salesperson", "您好，本次投保过程将全程录音录像，请问您是否同意？", 1.0, 6.0),
        said(
            "salesperson",
            "此次录音录像过程对于今后您维护权益非常关键，请您如实回答相关问题。",
            8.0,
            14.0,
        ),
        said("salesperson", f"您每年的保费为{premium}，本产品有十五天的犹豫期。", 15.0, 20.0),
        said("salesperson", "请您出示身份证，以上内容您是否清楚？", 21.0, 24.0),
    ]
