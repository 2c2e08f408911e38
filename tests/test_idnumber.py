from datetime import date

import pytest

from inspection.idnumber import (
    WEIGHTS,
    check_char,
    is_valid_id,
    make_id,
    mask_id,
    normalize_id,
    validate_id,
)

# The example number printed in GB 11643-1999 itself.
STANDARD_EXAMPLE = "11010519491231002X"


def test_weights_are_the_standard_ones() -> None:
    assert WEIGHTS == (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def test_standard_example_is_valid() -> None:
    check = validate_id(STANDARD_EXAMPLE)
    assert check.valid, check.reason
    assert check.birth_date == date(1949, 12, 31)
    assert check.sex == "female"  # 17th digit 2 is even
    assert check.region == "110105"


def test_check_char_x_and_digits() -> None:
    assert check_char(STANDARD_EXAMPLE[:17]) == "X"
    assert check_char("11010519900307123") == "9"  # 190 mod 11 = 3
    with pytest.raises(ValueError):
        check_char("1234")


def test_lower_case_x_and_spaces_are_normalised() -> None:
    assert normalize_id(" 1101 0519 4912 3100 2x ") == STANDARD_EXAMPLE
    assert is_valid_id("11010519491231002x")


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("110105194912310021", "check character is 1, expected X"),
        ("110105194902300025", "invalid birth date 19490230"),
        ("990105194912310025", "unknown region code 990105"),
        ("110000199001010017", "unknown region code 110000"),
        ("1101051949123100", "not 17 digits followed by a digit or X"),
        ("11010519491231X02X", "not 17 digits followed by a digit or X"),
        ("110105491231002", "15-digit first-generation number"),
    ],
)
def test_invalid_numbers_say_why(number: str, reason: str) -> None:
    check = validate_id(number)
    assert not check.valid
    assert check.reason is not None and check.reason.startswith(reason)


def test_birth_date_range() -> None:
    future = make_id(date(2030, 1, 1))
    assert not is_valid_id(future, today=date(2026, 1, 1))
    assert is_valid_id(future, today=date(2030, 1, 1))
    old = "11010518991231" + "001"
    assert not is_valid_id(old + check_char(old))


def test_every_single_digit_error_is_caught() -> None:
    # MOD 11-2 detects every single substitution; the birth date may also break, either way invalid.
    number = make_id(date(1985, 6, 15), "310104", 457)
    for i in range(17):
        for d in "0123456789":
            if d != number[i]:
                assert not is_valid_id(number[:i] + d + number[i + 1 :])


def test_residence_permit_and_foreigner_prefixes() -> None:
    assert is_valid_id(make_id(date(1990, 1, 1), "810000", 5))
    assert is_valid_id(make_id(date(1990, 1, 1), "931156", 5))


def test_make_id_is_valid_and_encodes_sex() -> None:
    for seq in (0, 1, 998, 999):
        number = make_id(date(2000, 2, 29), "440305", seq)
        check = validate_id(number)
        assert check.valid and check.birth_date == date(2000, 2, 29)
        assert check.sex == ("male" if seq % 2 else "female")
    with pytest.raises(ValueError):
        make_id(date(2000, 1, 1), "000000")
    with pytest.raises(ValueError):
        make_id(date(2000, 1, 1), seq=1000)


def test_mask_keeps_first_and_last_four() -> None:
    assert mask_id(STANDARD_EXAMPLE) == "1101**********002X"
    assert mask_id("1101 0519 4912 3100 2x") == "1101**********002X"
    assert mask_id("110105491231002") == "1101*******1002"
    assert mask_id("11010519") == "********"
    assert mask_id("") == ""
    masked = mask_id(make_id(date(1977, 8, 9)))
    assert "19770809" not in masked and len(masked) == 18
