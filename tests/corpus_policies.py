"""The two sales the v1 corpus and the v2 dev split are built on (one source for both)."""

from __future__ import annotations

from datetime import date

from inspection.idnumber import make_id
from inspection.policy import Policy


def base_policies() -> dict[str, Policy]:
    return {
        "a": Policy(
            customer_name="李明华",
            customer_id_number=make_id(date(1968, 5, 12), "110105", 123),
            product_name="安康定期寿险",
            salesperson_name="张伟",
            institution="安康人寿",
            premium=12000,
            payment_method="年交",
            payment_years=10,
            insurance_years=20,
            cooling_off_days=15,
        ),
        "b": Policy(
            customer_name="陈静",
            customer_id_number=make_id(date(1959, 11, 3), "310104", 246),
            product_name="恒信终身寿险",
            salesperson_name="刘洋",
            institution="恒信人寿",
            premium=8600,
            payment_method="年交",
            payment_years=5,
            insurance_years=None,
            cooling_off_days=20,
        ),
    }
