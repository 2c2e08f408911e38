"""The session-creation body (POST /api/sessions) that the tests, the benches and the cluster
demo send: one valid single-product sale. It lives under scripts/ rather than tests/ because
the image ships scripts/ but not tests/, and the tests import scripts already."""

from __future__ import annotations

from typing import Any

#: GB 11643's own example number: its check digit is right, so the server accepts it.
VALID_ID = "11010519491231002X"


def new_session_body(**overrides: Any) -> dict[str, Any]:
    """A fresh body (callers may change it), with ``overrides`` replacing or adding fields."""
    body: dict[str, Any] = {
        "customer_name": "张三",
        "customer_id_number": VALID_ID,
        "product_name": "示例终身寿险",
        "product_type": "traditional",
        "template_id": "traditional_life",
        "premium": 12000,
        "payment_method": "年交",
        "payment_years": 10,
        "insurance_years": 20,
        "cooling_off_days": 15,
    }
    body.update(overrides)
    return body
