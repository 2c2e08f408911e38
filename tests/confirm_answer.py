"""One answer window for the closed-set tests: the salesperson's "以上内容您清楚吗？" found
at 1-9 s, and how the customer's utterances after it are judged."""

from __future__ import annotations

from inspection.script import NodeAlignment, NodeSpec, find_answers
from inspection.script_types import Answer
from inspection.speech import Utterance

NODE = NodeSpec("confirm", "确认", "以上内容您清楚吗？", requires_answer=True)
ALIGNED = [NodeAlignment("confirm", "确认", "salesperson", True, 1.0, 1.0, 9.0, "")]


def answer(utts: list[Utterance]) -> Answer:
    """The confirm node's answer among ``utts``."""
    return find_answers([NODE], ALIGNED, utts)["confirm"]


def passes(utts: list[Utterance]) -> bool:
    """A clear yes: affirmative, full score, nothing uncertain about it."""
    a = answer(utts)
    return a.kind == "affirmative" and a.score >= 1.0 and a.uncertain is None
