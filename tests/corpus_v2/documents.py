"""Documents for the v2 corpus: printed signature forms and ID cards held up at an angle.

A signature form is printed (heading, instruction line, ruled lines or a grid, 签名/日期
fields, a policy number) and filled in by hand (AR PL UKai with per-character jitter, the
hand of ``tests.render``). Layouts are named per split; the test split's layouts are never
used by dev. An ID card sprite is warped in perspective, rotated, blurred and may carry a
glare spot; its photo is a second face in the customer's picture, as in real calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

from tests.corpus_media import Sprite
from tests.render import _NOTO_SC, NOTO_SANS, NOTO_SANS_BOLD, _font, _hand_char, _to_bgr


@dataclass(frozen=True)
class FormLayout:
    name: str
    heading: str
    instruction: str
    instruction_below: bool  # the instruction line under the handwriting instead of above
    chars_per_line: int
    char_size: int
    grid: bool  # square boxes per character instead of ruled lines
    border: bool
    signature_label: str
    date_label: str
    same_line: bool  # signature and date fields on one line
    paper: tuple[int, int, int]
    ink: tuple[int, int, int]


@dataclass(frozen=True)
class CardPose:
    name: str
    width: tuple[int, int]  # sprite width range in the 640x480 frame (px)
    angle: tuple[float, float]  # |rotation| range (degrees)
    tilt: tuple[float, float]  # perspective: corner shift as a fraction of the card size
    blur: tuple[float, float]  # Gaussian sigma range (px, at sprite size)
    glare: float  # peak brightness added by the glare spot (0: none)


LAYOUTS: dict[str, tuple[FormLayout, ...]] = {
    "dev": (
        FormLayout(
            "dev-f1",
            "风险提示语抄录",
            "请投保人在下方横线处亲笔抄录风险提示语句：",
            False,
            14,
            40,
            False,
            False,
            "投保人签名：",
            "日期：",
            False,
            (250, 250, 246),
            (25, 35, 90),
        ),
        FormLayout(
            "dev-f2",
            "投保人声明及抄录",
            "（请用黑色签字笔书写，字迹清晰）",
            False,
            12,
            42,
            False,
            True,
            "签名：",
            "日期：",
            True,
            (244, 244, 236),
            (30, 30, 30),
        ),
    ),
    "test": (
        FormLayout(
            "test-f1",
            "风险提示语抄录",
            "请在下列横线上工整抄录风险提示语句，不得涂改。",
            False,
            15,
            38,
            False,
            True,
            "投保人（签字）：",
            "签署日期：",
            True,
            (252, 249, 240),
            (20, 30, 110),
        ),
        FormLayout(
            "test-f2",
            "风险提示语抄录栏",
            "以上内容须由投保人本人亲笔抄录",
            True,
            13,
            40,
            True,
            False,
            "投保人签名：",
            "日期：",
            False,
            (247, 247, 247),
            (15, 15, 15),
        ),
    ),
}

POSES: dict[str, tuple[CardPose, ...]] = {
    "dev": (
        CardPose("dev-p1", (330, 370), (2.0, 7.0), (0.02, 0.05), (0.4, 0.8), 0.0),
        CardPose("dev-p2", (340, 380), (6.0, 11.0), (0.04, 0.07), (0.8, 1.1), 0.3),
    ),
    "test": (
        CardPose("test-p1", (385, 430), (9.0, 15.0), (0.06, 0.1), (0.5, 0.9), 0.45),
        CardPose("test-p2", (390, 440), (3.0, 8.0), (0.08, 0.12), (1.2, 1.6), 0.2),
    ),
}


def render_form(
    layout: FormLayout,
    sentence: str | None,
    signature: str | None,
    date_text: str,
    policy_no: str,
    seed: int,
) -> np.ndarray:
    """A printed form filled in by hand; ``None`` leaves that part blank. BGR."""
    rng = np.random.default_rng(seed)
    cpl, size = layout.chars_per_line, layout.char_size
    step, pitch = int(size * 1.15), int(size * 1.75)
    rows = max(3, -(-len(sentence or "") // cpl))
    width = 70 + cpl * step + 50
    head_h = 150
    height = head_h + rows * pitch + 60 + 2 * pitch + 30
    page = Image.new("RGB", (width, height), layout.paper)
    draw = ImageDraw.Draw(page)
    grey = (70, 70, 70)
    heading = _font(NOTO_SANS_BOLD, 34, _NOTO_SC)
    small = _font(NOTO_SANS, 20, _NOTO_SC)
    label = _font(NOTO_SANS, 24, _NOTO_SC)
    tw = draw.textlength(layout.heading, font=heading)
    draw.text(((width - tw) / 2, 22), layout.heading, font=heading, fill=(20, 20, 20))
    draw.text((width - 250, 74), f"保单号：{policy_no}", font=small, fill=grey)
    instr_y = head_h - 40 if not layout.instruction_below else head_h + rows * pitch + 14
    draw.text((50, instr_y), layout.instruction, font=small, fill=grey)
    if layout.border:
        draw.rectangle((18, 12, width - 18, height - 12), outline=(90, 90, 90), width=2)
    line_color = (175, 185, 200)
    for r in range(rows):
        y0 = head_h + r * pitch
        if layout.grid:
            for c in range(cpl):
                x0 = 60 + c * step - size // 2 - 4
                draw.rectangle((x0, y0 + 2, x0 + step - 2, y0 + step), outline=line_color, width=1)
        else:
            draw.line((40, y0 + pitch - 8, width - 30, y0 + pitch - 8), fill=line_color, width=2)
    for i, ch in enumerate(sentence or ""):
        r, c = divmod(i, cpl)
        xy = (60 + c * step, head_h + r * pitch + 10)
        _hand_char(page, ch, xy, size, layout.ink, rng)
    y = head_h + rows * pitch + 60
    sig_x = 50
    date_x, date_y = (width // 2 + 10, y) if layout.same_line else (50, y + pitch)
    draw.text((sig_x, y + 8), layout.signature_label, font=label, fill=grey)
    lw = int(draw.textlength(layout.signature_label, font=label))
    draw.line((sig_x + lw, y + 46, sig_x + lw + 170, y + 46), fill=grey, width=1)
    for i, ch in enumerate(signature or ""):
        _hand_char(
            page, ch, (sig_x + lw + 30 + i * int(size * 1.2), y), int(size * 1.15), layout.ink, rng
        )
    draw.text((date_x, date_y + 8), layout.date_label, font=label, fill=grey)
    dw = int(draw.textlength(layout.date_label, font=label))
    for i, ch in enumerate(date_text):
        _hand_char(
            page,
            ch,
            (date_x + dw + 10 + i * int(size * 0.5), date_y + 6),
            int(size * 0.75),
            layout.ink,
            rng,
        )
    return _to_bgr(page)


def card_sprite(card: np.ndarray, pose: CardPose, rng: np.random.Generator) -> Sprite:
    """The card warped in perspective, rotated, blurred and (maybe) with glare, as a sprite."""
    width = int(rng.integers(pose.width[0], pose.width[1] + 1))
    h = round(card.shape[0] * width / card.shape[1])
    img = cv2.resize(card, (width, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    if pose.glare > 0:  # a soft bright spot in the upper half (a lamp reflected by the film)
        cy, cx = rng.uniform(0.15, 0.5) * h, rng.uniform(0.2, 0.8) * width
        yy, xx = np.mgrid[0:h, 0:width]
        r2 = ((yy - cy) / (0.22 * h)) ** 2 + ((xx - cx) / (0.3 * width)) ** 2
        img += 255.0 * pose.glare * np.exp(-r2)[:, :, None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    t = float(rng.uniform(*pose.tilt))
    src = np.array([[0, 0], [width, 0], [width, h], [0, h]], np.float32)
    jitter = rng.uniform(-t, t, size=(4, 2)) * np.array([width, h], np.float32)
    angle = np.deg2rad(float(rng.uniform(*pose.angle)) * float(rng.choice([-1, 1])))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    dst = (src - src.mean(0) + jitter) @ rot.T
    dst -= dst.min(0)
    out_w, out_h = (int(v) + 2 for v in dst.max(0))
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    bgr = cv2.warpPerspective(img, m, (out_w, out_h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(np.ones((h, width), np.float32), m, (out_w, out_h))
    sigma = float(rng.uniform(*pose.blur))
    bgr = cv2.GaussianBlur(bgr, (0, 0), sigma)
    return Sprite(bgr, alpha)


def page_sprite(page: np.ndarray, width: int, angle: float) -> Sprite:
    """A form held up: scaled, slightly rotated (from tests.corpus_media.document_sprite)."""
    from tests.corpus_media import document_sprite

    return document_sprite(page, width, angle)
