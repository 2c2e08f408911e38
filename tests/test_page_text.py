"""Locating the hand-copied risk sentence and the signed name on printed signature forms.

Pure-text tests generate many form layouts as OCR boxes (headings, instructions, ruled
lines, signature and date fields in several places, OCR slips); a few real renders go
through the OCR engine.
"""

from __future__ import annotations

import itertools
import random

import pytest

from inspection.documents import read_signature
from inspection.ocr import OcrEngine, TextBox
from inspection.page_text import locate_sentence, reading_order, split_form
from inspection.rules import SignatureEvidence, Thresholds, signature_findings
from tests.render import (
    FORM_HEADINGS,
    FORM_INSTRUCTIONS,
    RISK_SENTENCE,
    place_in_frame,
    render_signature_form,
)

TH = Thresholds()
NAME = "李明华"
OTHER = "本人已阅读保险条款，确认本产品收益稳定，没有任何风险"
TRUNCATED = "本人已阅读保险条款、产品说明书"
SIGN_LINES = (
    ("投保人签名：{name} 日期：2026年1月2日",),
    ("投保人签名：", "{name}", "日期：2026.1.2"),  # label and name as separate boxes
    ("签名：{name}",),
    ("投保人（签名）：__{name}__",),
    ("客户签字 {name}",),
)
LINE_LENGTHS = (9, 13, 20, 40)


def _box(text: str, x: float, y: float, w: float | None = None, h: float = 30) -> TextBox:
    w = w if w is not None else 24.0 * len(text)
    return TextBox([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], text, 0.95)


def _slip(text: str, rng: random.Random, n: int) -> str:
    """``n`` OCR slips: a character replaced by a look-alike or dropped."""
    chars = list(text)
    for _ in range(n):
        i = rng.randrange(len(chars))
        chars[i] = rng.choice(["", "木", "已", "口"])
    return "".join(chars)


def form_boxes(
    sentence: str | None,
    *,
    heading: str,
    instruction: str,
    sign: tuple[str, ...],
    per_line: int,
    slips: int = 0,
    quoted: bool = False,
    ruling: bool = False,
    seed: int = 0,
) -> list[TextBox]:
    """OCR boxes of a printed form, shuffled (OCR does not promise reading order)."""
    rng = random.Random(seed)
    boxes = [_box(heading, 200, 10, h=40)]
    boxes.append(_box(instruction + (RISK_SENTENCE if quoted else ""), 40, 70, h=22))
    y = 120
    if sentence:
        text = _slip(sentence, rng, slips)
        for i in range(0, len(text), per_line):
            boxes.append(_box(text[i : i + per_line], 60, y + rng.uniform(-3, 3), h=44))
            if ruling:
                boxes.append(_box("______", 40, y + 46, h=8))
            y += 70
    y += 40
    x = 40.0
    for part in sign:
        text = part.format(name=NAME)
        boxes.append(_box(text, x, y + rng.uniform(-2, 2)))
        x += 24 * len(text) + 30
    rng.shuffle(boxes)
    return boxes


LAYOUTS = [
    {"heading": h, "instruction": i, "sign": s, "per_line": n, "quoted": q, "ruling": r}
    for (h, i, s, n), q, r in zip(
        itertools.product(FORM_HEADINGS, FORM_INSTRUCTIONS, SIGN_LINES, LINE_LENGTHS),
        itertools.cycle([False, False, True]),
        itertools.cycle([False, True]),
        strict=False,
    )
]
LAYOUT_IDS = {id(d): n for n, d in enumerate(LAYOUTS)}


def evidence(boxes: list[TextBox]) -> SignatureEvidence:
    lines = reading_order(boxes)
    signed, keep = split_form(lines)
    texts = tuple(lines[i].text for i in keep)
    return SignatureEvidence(
        node_id="signature",
        window=(40.0, 60.0),
        frames_read=1,
        signed_name=signed,
        page_text="".join(texts),
        all_text="".join(line.text for line in lines),
        t_s=44.0,
        lines=texts,
        line_bounds=tuple(lines[i].bounds for i in keep),
    )


def codes(ev: SignatureEvidence) -> list[str]:
    return sorted(f.code for f in signature_findings(ev, NAME, RISK_SENTENCE, TH))


@pytest.mark.parametrize(
    "layout",
    LAYOUTS[::3],
    ids=lambda d: "L{per_line}-{n}".format(per_line=d["per_line"], n=LAYOUT_IDS[id(d)]),
)
@pytest.mark.parametrize("slips", [0, 2])
def test_copied_sentence_on_printed_form_passes(layout: dict, slips: int) -> None:
    ev = evidence(form_boxes(RISK_SENTENCE, slips=slips, seed=slips, **layout))
    assert codes(ev) == []
    assert ev.signed_name is not None and NAME in ev.signed_name
    found = locate_sentence(ev.lines, RISK_SENTENCE)
    assert found.similarity >= 0.9
    # Nothing printed is part of the span.
    assert layout["instruction"].rstrip("：")[-3:] not in found.text


@pytest.mark.parametrize(
    "layout",
    LAYOUTS[1::5],
    ids=lambda d: "L{per_line}-{n}".format(per_line=d["per_line"], n=LAYOUT_IDS[id(d)]),
)
def test_form_without_handwriting_is_missing(layout: dict) -> None:
    ev = evidence(form_boxes(None, **layout))
    assert codes(ev) == ["document.risk_sentence_missing"]


@pytest.mark.parametrize(
    "layout",
    LAYOUTS[2::5],
    ids=lambda d: "L{per_line}-{n}".format(per_line=d["per_line"], n=LAYOUT_IDS[id(d)]),
)
@pytest.mark.parametrize("wrong", [OTHER, TRUNCATED])
def test_wrong_or_partial_copy_is_a_mismatch(layout: dict, wrong: str) -> None:
    ev = evidence(form_boxes(wrong, **layout))
    found = signature_findings(ev, NAME, RISK_SENTENCE, TH)
    assert [f.code for f in found] == ["document.risk_sentence_mismatch"]
    where = found[0].evidence["location"]
    assert where["lines"] and len(where["boxes"]) == len(where["lines"])
    assert found[0].evidence["frame_t_s"] == 44.0


def test_page_text_with_heading_and_instruction_is_not_compared_whole() -> None:
    """The evidence shape older callers build (``page_text`` only) gets the locator too."""
    page = "风险提示语抄录请在下方抄录以下语句：" + RISK_SENTENCE
    ev = SignatureEvidence("signature", (40.0, 60.0), 1, NAME, page, page, 44.0)
    assert codes(ev) == []


@pytest.mark.parametrize("sign", SIGN_LINES)
def test_signed_name_is_read_next_to_its_label(sign: tuple[str, ...]) -> None:
    boxes = form_boxes(
        RISK_SENTENCE, heading="投保人声明", instruction="请抄录并签名：", sign=sign, per_line=13
    )
    signed, _ = split_form(reading_order(boxes))
    assert signed == NAME


def test_name_written_above_its_label() -> None:
    boxes = [
        _box(RISK_SENTENCE[:19], 40, 0, h=44),
        _box(RISK_SENTENCE[19:], 40, 60, h=44),
        _box("李明华", 300, 150, h=40),
        _box("投保人签名", 280, 200, h=28),
        _box("日期：2026.1.2", 280, 240, h=28),
    ]
    signed, keep = split_form(reading_order(boxes))
    assert signed == NAME
    assert keep == [0, 1, 2]  # the name line stays a candidate, but cannot match the sentence


def test_locate_sentence_across_lines_and_shorter_text() -> None:
    lines = ["抄录：", RISK_SENTENCE[:10], RISK_SENTENCE[10:25], RISK_SENTENCE[25:], "日期"]
    found = locate_sentence(lines, RISK_SENTENCE)
    assert found.similarity == 1.0 and found.lines == (1, 2, 3)
    short = locate_sentence(["本人已阅读"], RISK_SENTENCE)
    assert short.text == "本人已阅读" and short.matched_chars == 5
    assert locate_sentence([], RISK_SENTENCE).similarity == 0.0


# --- real OCR on rendered forms (a few: ~0.4-4 s per image on a shared CPU) -----------------


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine(threads=2)


@pytest.mark.parametrize(
    ("layout", "sentence", "expected"),
    [
        ("ruled", RISK_SENTENCE, []),
        ("two_column", RISK_SENTENCE, []),
        ("quoted", None, ["document.risk_sentence_missing"]),
    ],
)
def test_rendered_forms_through_ocr(
    engine: OcrEngine, layout: str, sentence: str | None, expected: list[str]
) -> None:
    form = render_signature_form(
        sentence or "",
        signature=NAME,
        layout=layout,
        quote=RISK_SENTENCE,  # printed on the quoted layout only
        heading=FORM_HEADINGS[1],
        instruction=FORM_INSTRUCTIONS[0],
        seed=7,
    )
    frame = place_in_frame(form, doc_width=520, angle=-3, seed=2)
    ev = read_signature(engine, [(44.0, frame)], "signature", (40.0, 60.0), RISK_SENTENCE)
    found = signature_findings(ev, NAME, RISK_SENTENCE, TH)
    assert [f.code for f in found] == expected
    assert ev.t_s == 44.0 and ev.signed_name == NAME


@pytest.mark.parametrize("split", [6, 15, 25])
@pytest.mark.parametrize("copied", [False, True])
def test_printed_model_sentence_wrapped_over_lines_is_not_handwriting(
    split: int, copied: bool
) -> None:
    boxes = [
        _box("风险提示语抄录", 200, 10, h=40),
        _box("请在下方抄录以下语句：" + RISK_SENTENCE[:split], 40, 70, h=22),
        _box(RISK_SENTENCE[split:], 40, 94, h=22),
    ]
    if copied:
        boxes += [_box(RISK_SENTENCE[i : i + 13], 60, 140 + 5 * i, h=44) for i in range(0, 38, 13)]
    boxes.append(_box(f"投保人签名：{NAME} 日期：2026.1.2", 40, 400))
    expected = [] if copied else ["document.risk_sentence_missing"]
    assert codes(evidence(boxes)) == expected


def _tilted(boxes: list[TextBox], degrees: float, cx: float = 320, cy: float = 240) -> list:
    """The boxes of a page held at ``degrees`` (rotated about the frame centre), as the OCR
    returns them: 4 corners each, following the text line."""
    import math

    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    out = []
    for b in boxes:
        pts = [
            [cx + (x - cx) * c - (y - cy) * s, cy + (x - cx) * s + (y - cy) * c] for x, y in b.box
        ]
        out.append(TextBox(pts, b.text, b.score))
    return out


@pytest.mark.parametrize("degrees", [-12.0, -7.0, 6.0, 9.0, 13.0])
@pytest.mark.parametrize("per_line", [13, 20])
def test_sentence_on_a_tilted_form_is_read_line_by_line(degrees: float, per_line: int) -> None:
    """A form held at 6-13°: the upright bounds of two consecutive handwritten lines overlap
    by half their height, and line 3 was read as part of line 2, starting further left (the
    copied sentence came out as ...说明书 / 和保单利益的不确定性 和投保提示书... : mismatch)."""
    layout = {
        "heading": FORM_HEADINGS[0],
        "instruction": FORM_INSTRUCTIONS[0],
        "sign": SIGN_LINES[0],
        "per_line": per_line,
        "quoted": False,
        "ruling": False,
    }
    boxes = _tilted(form_boxes(RISK_SENTENCE, seed=3, **layout), degrees)
    texts = [line.text for line in reading_order(boxes)]
    chunks = [RISK_SENTENCE[i : i + per_line] for i in range(0, len(RISK_SENTENCE), per_line)]
    order = [next(k for k, t in enumerate(texts) if chunk in t) for chunk in chunks]
    assert order == sorted(order) and len(set(order)) == len(order), texts
    assert codes(evidence(boxes)) == []
