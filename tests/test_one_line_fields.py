"""Names and other one-line fields of a new session refuse characters that would not show as
what they are: a right-to-left override (the reviewer reads the name reversed), zero-width
characters (the name then never matches the one read from the ID card), line breaks and
escape sequences (a log or terminal line split or coloured). 400, and nothing is created."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunningServer, new_session_body
from tests.test_api_auth import assert_error

HOSTILE = {
    "rlo": "张\u202e三",
    "zero-width-space": "张\u200b三",
    "zero-width-joiner": "张\u200d三",
    "bom": "\ufeff张三",
    "line-break": "张三\r\nX-Injected: 1",
    "line-separator": "张三\u2028李四",
    "escape-sequence": "\x1b[31m张三",
    "tab": "张\t三",
}


@pytest.mark.parametrize("field", ["customer_name", "product_name", "payment_method"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_invisible_or_control_characters_are_refused(
    server: RunningServer, client_factory: Any, field: str, case: str
) -> None:
    sales = await client_factory("sales1")
    value = HOSTILE[case][:16]
    status, body = await sales.post("/api/sessions", json=new_session_body(**{field: value}))
    assert status == 400, (field, case, body)
    assert_error(body, "invalid_fields")
    assert body["error"]["details"]["field"] == field
    root = server.ctx.settings.sessions_dir
    assert not root.exists() or not any(root.iterdir())


async def test_ordinary_names_still_pass(client_factory: Any) -> None:
    sales = await client_factory("sales1")
    for name in ("张三", "欧阳 娜娜", "Anne-Marie O'Neil", "阿卜杜·热合曼", "李·四"):
        status, body = await sales.post("/api/sessions", json=new_session_body(customer_name=name))
        assert status == 201, (name, body)
        assert body["session"]["customer_name"] == name
