"""Account names (`kesu user add`): one that differs from an existing one only in case or
width would read as the same person in the audit log and on the pages; refused, and a name
not in Unicode normal form too."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.users import UserError, add_user
from tests.conftest import make_settings

PASSWORD = "tall-ferry-47"


@pytest.mark.parametrize("lookalike", ["Zhang.Wei", "ZHANG.WEI", "ｚｈａｎｇ.ｗｅｉ"])
async def test_a_lookalike_of_an_existing_name_is_refused(tmp_path: Path, lookalike: str) -> None:
    settings = make_settings(tmp_path)
    await add_user(settings, "zhang.wei", "salesperson", PASSWORD)
    with pytest.raises(UserError, match="too like|normal form"):
        await add_user(settings, lookalike, "admin", PASSWORD)
    await add_user(settings, "zhang.wei2", "salesperson", PASSWORD)  # a different name is fine
