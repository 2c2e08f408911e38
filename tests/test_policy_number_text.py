"""A policy JSON written by hand or exported from a spreadsheet may give a number as text
("12000") or a whole number as a float (10.0 years): those are read as the number they plainly
are, while anything that is not plainly a number is refused with the field named."""

from __future__ import annotations

from typing import Any

import pytest

from inspection.policy import Policy

BASE = {"customer_name": "张三", "customer_id_number": "110101199001011234", "product_name": "安康"}


@pytest.mark.parametrize(
    ("given", "field", "value"),
    [
        ({"premium": "12000"}, "premium", 12000),
        ({"premium": " 12000.5 "}, "premium", 12000.5),
        ({"premium": 12000}, "premium", 12000),
        ({"payment_years": "10"}, "payment_years", 10),
        ({"payment_years": 10.0}, "payment_years", 10),
        ({"insurance_years": "20"}, "insurance_years", 20),
        ({"cooling_off_days": 15.0}, "cooling_off_days", 15),
        ({"cooling_off_days": "20"}, "cooling_off_days", 20),
    ],
)
def test_a_number_written_as_text_or_a_whole_float_is_that_number(
    given: dict[str, Any], field: str, value: float
) -> None:
    policy = Policy.from_dict({**BASE, **given})
    got = getattr(policy, field)
    assert got == value and type(got) is type(value)


def test_a_rider_premium_written_as_text_is_read_as_a_number() -> None:
    policy = Policy.from_dict(
        {**BASE, "products": [{"product_name": "安康"}, {"product_name": "附加", "premium": "300"}]}
    )
    assert policy.riders[0].premium == 300
    assert (
        policy.riders[0].placeholders()["premium"]
        == Policy.from_dict({**BASE, "premium": 300}).products[0].placeholders()["premium"]
    )


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"premium": "inf"}, "premium"),
        ({"premium": "一万二"}, "premium"),
        ({"premium": True}, "premium"),
        ({"payment_years": 10.5}, "payment_years"),
        ({"payment_years": "ten"}, "payment_years"),
        ({"cooling_off_days": "15.5"}, "cooling_off_days"),
        ({"customer_name": 12345}, "customer_name"),
    ],
)
def test_what_is_not_plainly_a_number_is_refused_with_its_field(
    given: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: "):
        Policy.from_dict({**BASE, **given})
