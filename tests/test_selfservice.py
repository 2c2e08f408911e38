"""Self-service: which stretch of the customer's recording is heard as the answer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from server.selfservice import LISTEN_MARGIN_S, RECORDER_LAG_S, answer_window, decode_image
from server.session_dir import SessionDir
from server.session_format import utc_now
from server.sessions import SessionError


async def test_answer_window_is_the_listening_time_after_the_node(tmp_path: Path) -> None:
    sdir = SessionDir.create(tmp_path, "s-self", mode="self_service")
    t0 = utc_now() - timedelta(seconds=60)
    path = await sdir.open_segment("customer")
    await sdir.start_segment(path, t0)
    assert answer_window(sdir, "consent", t0 + timedelta(seconds=30), 5.0) is None  # not played
    await sdir.add_event(
        "playback_end", "system", "consent", {"complete": True}, t0 + timedelta(seconds=20)
    )
    # Asked right after the playback: from its end.
    w = answer_window(sdir, "consent", t0 + timedelta(seconds=23), 5.0)
    assert w is not None and w.path == path
    assert w.start_s == pytest.approx(20.0, abs=0.01) and w.end_s == pytest.approx(
        23 - RECORDER_LAG_S, abs=0.01
    )
    # Asked long after (a document was captured first): only the listening time.
    w = answer_window(sdir, "consent", t0 + timedelta(seconds=50), 5.0)
    assert w is not None
    assert w.start_s == pytest.approx(50 - RECORDER_LAG_S - 5.0 - LISTEN_MARGIN_S, abs=0.01)


def test_bad_images_are_the_users_fault() -> None:
    for bad in ("data:image/jpeg;base64,@@@", "aGVsbG8="):
        with pytest.raises(SessionError) as info:
            decode_image(bad)
        assert info.value.status == 400
