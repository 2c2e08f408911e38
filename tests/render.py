"""Renderers of synthetic documents for tests and the corpus: ID card, handwritten page, video frame.

Everything is drawn with PIL from installed Debian fonts (fonts-noto-cjk, fonts-arphic-ukai)
and is deterministic for a given seed. Images are returned as BGR uint8 arrays, the layout
``inspection`` and OpenCV use.
"""

from __future__ import annotations

import io
import math
from datetime import date
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

NOTO_SANS = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
NOTO_SANS_BOLD = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
UKAI = Path("/usr/share/fonts/truetype/arphic/ukai.ttc")
_NOTO_SC = 2  # face index of "Noto Sans CJK SC" in the collection
_UKAI_CN = 0  # "AR PL UKai CN"

CARD_SIZE = (856, 540)  # 85.6 x 54 mm at 10 px/mm
RISK_SENTENCE = "本人已阅读保险条款、产品说明书和投保提示书，了解本产品的特点和保单利益的不确定性"
#: Another sentence a customer may copy: must not pass for the risk sentence.
OTHER_SENTENCE = "投保人承诺所填写的健康告知内容真实有效，如有隐瞒愿意承担相应的法律责任"


def _font(path: Path, size: int, index: int) -> ImageFont.FreeTypeFont:
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: apt-get install fonts-noto-cjk fonts-arphic-ukai")
    return ImageFont.truetype(str(path), size, index=index)


def _to_bgr(img: Image.Image) -> np.ndarray:
    return cv2.cvtColor(np.asarray(img.convert("RGB")), cv2.COLOR_RGB2BGR)


def _photo_placeholder(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int]) -> None:
    # A plain head-and-shoulders silhouette where the card photo goes.
    x0, y0, x1, y1 = box
    draw.rectangle(box, fill=(226, 232, 238))
    cx, w = (x0 + x1) // 2, x1 - x0
    draw.ellipse(
        (cx - w // 5, y0 + 50, cx + w // 5, y0 + 50 + w * 2 // 5 + 20), fill=(120, 110, 100)
    )
    draw.pieslice((x0 + 20, y1 - 120, x1 - 20, y1 + 100), 180, 360, fill=(60, 70, 90))


def render_id_card(
    name: str,
    id_number: str,
    *,
    sex: str = "男",
    ethnicity: str = "汉",
    birth: date | None = None,
    address: str = "北京市东城区景山前街4号",
    photo: np.ndarray | None = None,
) -> np.ndarray:
    """The front of a second-generation resident ID card, 856x540, BGR.

    ``birth`` defaults to the date inside ``id_number``; ``photo`` (BGR) is pasted into the
    photo area when given, otherwise a silhouette is drawn.
    """
    if birth is None:
        birth = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    w, h = CARD_SIZE
    img = Image.new("RGB", CARD_SIZE, (236, 240, 236))
    draw = ImageDraw.Draw(img)
    for y in range(0, h, 6):  # faint guilloche-like background lines
        draw.line((0, y, w, y + 40 * math.sin(y / 37)), fill=(222, 230, 226), width=2)
    label = _font(NOTO_SANS, 26, _NOTO_SC)
    value = _font(NOTO_SANS, 32, _NOTO_SC)
    number_font = _font(NOTO_SANS_BOLD, 38, _NOTO_SC)
    blue, black = (60, 100, 150), (20, 20, 20)
    draw.text((60, 50), "姓名", font=label, fill=blue)
    draw.text((150, 44), name, font=value, fill=black)
    draw.text((60, 115), "性别", font=label, fill=blue)
    draw.text((150, 109), sex, font=value, fill=black)
    draw.text((250, 115), "民族", font=label, fill=blue)
    draw.text((340, 109), ethnicity, font=value, fill=black)
    draw.text((60, 180), "出生", font=label, fill=blue)
    draw.text(
        (150, 174), f"{birth.year}  年 {birth.month} 月 {birth.day} 日", font=value, fill=black
    )
    draw.text((60, 245), "住址", font=label, fill=blue)
    for i in range(0, len(address), 11):
        draw.text((150, 239 + 46 * (i // 11)), address[i : i + 11], font=value, fill=black)
    draw.text((60, 440), "公民身份号码", font=label, fill=blue)
    draw.text((260, 430), id_number, font=number_font, fill=black)
    box = (580, 60, 800, 330)
    if photo is None:
        _photo_placeholder(draw, box)
    else:
        face = cv2.resize(photo, (box[2] - box[0], box[3] - box[1]))
        img.paste(Image.fromarray(cv2.cvtColor(face, cv2.COLOR_BGR2RGB)), box[:2])
    return _to_bgr(img)


def render_handwritten_page(
    text: str,
    *,
    signature: str | None = None,
    chars_per_line: int = 14,
    char_size: int = 44,
    seed: int = 0,
) -> np.ndarray:
    """A lined sheet with ``text`` hand-copied in a brush-style font (AR PL UKai), BGR.

    Each character gets a small random offset, size and angle so that it does not look
    typeset. ``signature`` adds a line ``签名：<signature>`` at the bottom.
    """
    rng = np.random.default_rng(seed)
    lines = [text[i : i + chars_per_line] for i in range(0, len(text), chars_per_line)]
    step = int(char_size * 1.1)
    pitch = int(char_size * 1.7)
    width = 60 + chars_per_line * step + 40
    height = 80 + (len(lines) + (2 if signature else 0)) * pitch + 40
    page = Image.new("RGB", (width, height), (246, 243, 232))
    draw = ImageDraw.Draw(page)
    for i in range(len(lines) + (2 if signature else 0)):
        y = 60 + (i + 1) * pitch - 6
        draw.line((40, y, width - 30, y), fill=(190, 200, 215), width=2)
    ink = (25, 35, 90)
    for row, line in enumerate(lines):
        for col, ch in enumerate(line):
            _hand_char(page, ch, (60 + col * step, 60 + row * pitch + 10), char_size, ink, rng)
    if signature:
        y = 60 + (len(lines) + 1) * pitch + 10
        label = _font(NOTO_SANS, int(char_size * 0.6), _NOTO_SC)
        draw.text((width // 2 - 40, y + 10), "签名：", font=label, fill=(60, 60, 60))
        for col, ch in enumerate(signature):
            _hand_char(
                page,
                ch,
                (width // 2 + 60 + col * int(step * 1.2), y),
                int(char_size * 1.2),
                ink,
                rng,
            )
    return _to_bgr(page)


FORM_LAYOUTS = ("ruled", "grid", "two_column", "quoted")
FORM_HEADINGS = ("风险提示语抄录", "投保人声明", "人身保险投保提示书（抄录页）")
FORM_INSTRUCTIONS = (
    "请在下方抄录以下语句：",
    "请投保人亲笔抄录下列内容：",
    "请您在横线上手写抄录：",
)


def render_signature_form(
    sentence: str,
    *,
    signature: str | None,
    layout: str = "ruled",
    heading: str = FORM_HEADINGS[0],
    instruction: str = FORM_INSTRUCTIONS[0],
    date_text: str | None = "2026.1.2",
    quote: str | None = None,
    chars_per_line: int = 13,
    char_size: int = 40,
    seed: int = 0,
) -> np.ndarray:
    """A printed signature form with the handwriting on it, BGR.

    Printed (Noto Sans): a heading, an instruction line, ruled lines or a writing grid, and a
    ``投保人签名：____ 日期：____`` line; handwritten (AR PL UKai): ``sentence`` on the ruling
    and ``signature``/``date_text`` on their fields. Layouts: ``ruled`` (lines), ``grid``
    (one box per character), ``two_column`` (signature and date fields side by side at the
    bottom right, name written on the line above the label), ``quoted`` (the instruction
    line also prints the model sentence, ``quote`` or else ``sentence``, as many insurers'
    forms do).
    """
    if layout not in FORM_LAYOUTS:
        raise ValueError(f"layout must be one of {FORM_LAYOUTS}")
    rng = np.random.default_rng(seed)
    lines = [sentence[i : i + chars_per_line] for i in range(0, len(sentence), chars_per_line)]
    step, pitch = int(char_size * 1.15), int(char_size * 1.75)
    width = 80 + chars_per_line * step + 60
    rows = max(len(lines), 3)
    height = 250 + rows * pitch + 230
    page = Image.new("RGB", (width, height), (250, 250, 246))
    draw = ImageDraw.Draw(page)
    printed = (40, 40, 40)
    title = _font(NOTO_SANS_BOLD, int(char_size * 0.8), _NOTO_SC)
    small = _font(NOTO_SANS, int(char_size * 0.5), _NOTO_SC)
    draw.text((width // 2 - len(heading) * char_size * 0.4, 40), heading, font=title, fill=printed)
    y = 40 + int(char_size * 1.6)
    if layout == "quoted":
        printed_text = f"{instruction}{quote or sentence}"
        per = (width - 100) // int(char_size * 0.5)
        for i in range(0, len(printed_text), per):
            draw.text((50, y), printed_text[i : i + per], font=small, fill=printed)
            y += int(char_size * 0.8)
    else:
        draw.text((50, y), instruction, font=small, fill=printed)
        y += int(char_size * 0.9)
    top = y + 20
    for r in range(rows):
        base = top + (r + 1) * pitch - 8
        if layout == "grid":
            for c in range(chars_per_line + 1):
                x = 70 + c * step - step // 2 + 4
                draw.line((x, base - pitch + 14, x, base), fill=(200, 170, 170), width=1)
            draw.line(
                (70 - step // 2 + 4, base - pitch + 14, width - 40, base - pitch + 14),
                fill=(200, 170, 170),
            )
        draw.line((50, base, width - 40, base), fill=(180, 190, 205), width=2)
    for row, text in enumerate(lines):
        _hand_text(page, text, (80, top + row * pitch + 12), char_size, step, rng)
    _form_fields(page, top + rows * pitch + 50, layout, signature, date_text, char_size, rng)
    return _to_bgr(page)


def _form_fields(
    page: Image.Image,
    y: int,
    layout: str,
    signature: str | None,
    date_text: str | None,
    char_size: int,
    rng: np.random.Generator,
) -> None:
    """The printed signature and date fields, with the handwriting on them."""
    draw = ImageDraw.Draw(page)
    width, printed = page.width, (40, 40, 40)
    label_font = _font(NOTO_SANS, int(char_size * 0.55), _NOTO_SC)
    step, small = int(char_size * 1.15), int(char_size * 0.7)
    if layout == "two_column":
        # Name written on the line above the label, date below, in the right half.
        x0 = width // 2 - 20
        _hand_text(page, signature or "", (x0 + 40, y), char_size, step, rng)
        y += int(char_size * 1.3)
        draw.text((x0, y), "投保人签名", font=label_font, fill=printed)
        draw.line((x0, y - 6, width - 40, y - 6), fill=printed, width=1)
        y += int(char_size * 1.2)
        draw.text((x0, y), "日期：", font=label_font, fill=printed)
        _hand_text(page, date_text or "", (x0 + 110, y + 4), small, int(char_size * 0.6), rng)
        return
    x_name = 50 + int(char_size * 3.4)
    y_rule = y + 10 + int(char_size * 0.7)
    draw.text((50, y + 10), "投保人签名：", font=label_font, fill=printed)
    draw.line((x_name, y_rule, width // 2 + 60, y_rule), fill=printed)
    _hand_text(page, signature or "", (x_name + 20, y), char_size, step, rng)
    dx = width // 2 + 70
    draw.text((dx, y + 10), "日期：", font=label_font, fill=printed)
    _hand_text(
        page, date_text or "", (dx + int(char_size * 1.8), y + 8), small, int(char_size * 0.6), rng
    )


def _hand_text(
    page: Image.Image,
    text: str,
    xy: tuple[int, int],
    size: int,
    step: int,
    rng: np.random.Generator,
) -> None:
    for col, ch in enumerate(text):
        _hand_char(page, ch, (xy[0] + col * step, xy[1]), size, (25, 35, 90), rng)


def _hand_char(
    page: Image.Image,
    ch: str,
    xy: tuple[int, int],
    size: int,
    ink: tuple[int, int, int],
    rng: np.random.Generator,
) -> None:
    s = int(size * rng.uniform(0.9, 1.08))
    font = _font(UKAI, s, _UKAI_CN)
    tile = Image.new("L", (s * 2, s * 2), 0)
    ImageDraw.Draw(tile).text((s // 2, s // 3), ch, font=font, fill=255)
    tile = tile.rotate(float(rng.uniform(-6, 6)), resample=Image.Resampling.BICUBIC)
    dx, dy = (int(v) for v in rng.integers(-3, 4, size=2))
    page.paste(Image.new("RGB", tile.size, ink), (xy[0] - s // 2 + dx, xy[1] - s // 3 + dy), tile)


def place_in_frame(
    document: np.ndarray,
    *,
    size: tuple[int, int] = (640, 480),
    doc_width: int = 420,
    angle: float = 4.0,
    noise_sigma: float = 5.0,
    blur_sigma: float = 0.8,
    jpeg_quality: int = 60,
    seed: int = 0,
) -> np.ndarray:
    """A webcam-like frame (BGR) showing ``document`` held up in front of a room.

    The document is scaled to ``doc_width`` pixels, rotated by ``angle`` degrees and pasted
    on a cluttered background; then Gaussian blur, sensor noise and JPEG compression apply.
    """
    rng = np.random.default_rng(seed)
    fw, fh = size
    frame = _background(fw, fh, rng)
    dh = round(document.shape[0] * doc_width / document.shape[1])
    doc = cv2.resize(document, (doc_width, dh), interpolation=cv2.INTER_AREA)
    # Rotate inside a canvas big enough for the corners, with a mask to paste only the card.
    diag = int(math.hypot(doc_width, dh)) + 2
    canvas: np.ndarray = np.zeros((diag, diag, 3), np.uint8)
    mask: np.ndarray = np.zeros((diag, diag), np.uint8)
    oy, ox = (diag - dh) // 2, (diag - doc_width) // 2
    canvas[oy : oy + dh, ox : ox + doc_width] = doc
    mask[oy : oy + dh, ox : ox + doc_width] = 255
    rot = cv2.getRotationMatrix2D((diag / 2, diag / 2), angle, 1.0)
    canvas = cv2.warpAffine(canvas, rot, (diag, diag), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(mask, rot, (diag, diag), flags=cv2.INTER_LINEAR)
    x0, y0 = (fw - diag) // 2, (fh - diag) // 2
    _paste(frame, canvas, mask, x0, y0)
    if blur_sigma > 0:
        frame = cv2.GaussianBlur(frame, (0, 0), blur_sigma)
    if noise_sigma > 0:
        noisy = frame.astype(np.float32) + rng.normal(0, noise_sigma, frame.shape)
        frame = np.clip(noisy, 0, 255).astype(np.uint8)
    return jpeg_roundtrip(frame, jpeg_quality)


def _paste(frame: np.ndarray, canvas: np.ndarray, mask: np.ndarray, x0: int, y0: int) -> None:
    fh, fw = frame.shape[:2]
    sx0, sy0 = max(0, -x0), max(0, -y0)
    dx0, dy0 = max(0, x0), max(0, y0)
    w = min(canvas.shape[1] - sx0, fw - dx0)
    h = min(canvas.shape[0] - sy0, fh - dy0)
    alpha = (mask[sy0 : sy0 + h, sx0 : sx0 + w, None] / 255.0).astype(np.float32)
    region = frame[dy0 : dy0 + h, dx0 : dx0 + w].astype(np.float32)
    src = canvas[sy0 : sy0 + h, sx0 : sx0 + w].astype(np.float32)
    frame[dy0 : dy0 + h, dx0 : dx0 + w] = (alpha * src + (1 - alpha) * region).astype(np.uint8)


def _background(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    # A wall gradient with a few furniture-like blocks, so the frame is not uniform.
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    base = np.array([150, 165, 175], np.float32) * (0.75 + 0.35 * ys)
    frame = np.broadcast_to(base, (h, w, 3)).copy().astype(np.uint8)
    for _ in range(6):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        bw, bh = int(rng.integers(40, 200)), int(rng.integers(40, 200))
        color = tuple(int(c) for c in rng.integers(40, 220, size=3))
        cv2.rectangle(frame, (x, y), (x + bw, y + bh), color, -1)
    return frame


def jpeg_roundtrip(bgr: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG at ``quality`` (what a video codec roughly does to detail)."""
    buf = io.BytesIO()
    Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).save(buf, "JPEG", quality=quality)
    decoded = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return cv2.cvtColor(decoded, cv2.COLOR_RGB2BGR)
