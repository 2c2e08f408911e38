"""Chinese resident ID numbers (GB 11643-1999): check digit, birth date, region shape, masking.

Pure functions with no dependencies beyond the standard library, so the server can validate
numbers when a session is created and mask them on every page and log line.

Layout of the 18 characters: 6-digit administrative region code, 8-digit birth date
(YYYYMMDD), 3-digit sequence code (odd = male, even = female), 1 check character computed
over the first 17 digits with weights 2^(17-i) mod 11 (ISO 7064 MOD 11-2), where a value of
10 is written ``X``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

#: Weight of each of the first 17 digits: 2^(17-i) mod 11.
WEIGHTS: tuple[int, ...] = tuple(pow(2, 17 - i, 11) for i in range(17))
#: Check character for each value of (weighted sum mod 11).
CHECK_CHARS = "10X98765432"

# First two digits of the region code: provinces, autonomous regions and municipalities
# (GB/T 2260), plus 71 Taiwan and 81/82/83 for Hong Kong, Macao and Taiwan residence permits.
PROVINCE_CODES: frozenset[str] = frozenset(
    [str(n) for n in (11, 12, 13, 14, 15, 21, 22, 23)]
    + [str(n) for n in range(31, 38)]
    + [str(n) for n in range(41, 47)]
    + [str(n) for n in range(50, 55)]
    + [str(n) for n in range(61, 66)]
    + ["71", "81", "82", "83"]
)

_SHAPE = re.compile(r"\d{17}[\dX]")
_EARLIEST_BIRTH = date(1900, 1, 1)

Sex = Literal["male", "female"]


@dataclass(frozen=True)
class IdCheck:
    """The outcome of validating one ID number; ``reason`` says why it is invalid."""

    number: str  # normalised (spaces removed, upper-case X)
    valid: bool
    reason: str | None = None
    birth_date: date | None = None
    sex: Sex | None = None
    region: str | None = None


def normalize_id(text: str) -> str:
    """Remove whitespace and upper-case a trailing ``x``; no other repair is attempted."""
    return "".join(text.split()).upper()


def check_char(first17: str) -> str:
    """The GB 11643 check character for 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("need exactly 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def _region_ok(region: str) -> bool:
    # Foreigners' permanent residence ID numbers (2023 format) start with 9 followed by the
    # issuing province's two digits; everyone else's start with the province code.
    if region.startswith("9"):
        return region[1:3] in PROVINCE_CODES
    if region[:2] not in PROVINCE_CODES:
        return False
    # Mainland numbers carry a county-level code; residence permits use 810000/820000/830000.
    return region[2:] != "0000" or region[:2] in ("81", "82", "83")


def _birth(digits: str) -> date | None:
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def validate_id(text: str, today: date | None = None) -> IdCheck:
    """Check shape, region code, birth date (1900-01-01..today) and check character."""
    number = normalize_id(text)
    if len(number) == 15 and number.isdigit():
        return IdCheck(
            number, False, "15-digit first-generation number; an 18-digit number is required"
        )
    if len(number) != 18 or not _SHAPE.fullmatch(number):
        return IdCheck(number, False, "not 17 digits followed by a digit or X")
    region = number[:6]
    if not _region_ok(region):
        return IdCheck(number, False, f"unknown region code {region}")
    born = _birth(number[6:14])
    if born is None:
        return IdCheck(number, False, f"invalid birth date {number[6:14]}")
    if not _EARLIEST_BIRTH <= born <= (today or date.today()):
        return IdCheck(number, False, f"birth date {born.isoformat()} out of range")
    expected = check_char(number[:17])
    if number[17] != expected:
        return IdCheck(number, False, f"check character is {number[17]}, expected {expected}")
    sex: Sex = "male" if int(number[16]) % 2 else "female"
    return IdCheck(number, True, None, born, sex, region)


def is_valid_id(text: str, today: date | None = None) -> bool:
    """True when ``text`` is a valid 18-character ID number (see ``validate_id``)."""
    return validate_id(text, today).valid


def mask_id(text: str) -> str:
    """Mask an ID number for display and logs: first 4 and last 4 kept, the rest ``*``.

    ``11010519491231002X`` -> ``1101**********002X``. The first 4 digits reveal only the
    province and city, the last 4 the end of the sequence code and the check character;
    the birth date is always hidden. Inputs shorter than 15 characters (typos, partial OCR
    reads) are masked entirely, since 8 visible characters would reveal most of them.
    """
    number = normalize_id(text)
    if len(number) < 15:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def make_id(birth: date, region: str = "110101", seq: int = 1) -> str:
    """Build a valid ID number for tests and synthetic sessions (never a real person's).

    ``seq`` (0..999) is the sequence code; its parity sets the sex (odd = male).
    """
    if not (len(region) == 6 and region.isdigit() and _region_ok(region)):
        raise ValueError(f"invalid region code {region!r}")
    if not 0 <= seq <= 999:
        raise ValueError("seq must be in 0..999")
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + check_char(first17)
