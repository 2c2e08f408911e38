"""server.sessions helpers that need no server: a node of a session's script by id."""

from __future__ import annotations

import pytest

from inspection.policy import Policy
from server.sessions import SessionError, node_of, rendered_nodes
from server.store.models import RecordingSession
from tests.conftest import new_session_body


def _row() -> RecordingSession:
    body = new_session_body()
    policy = Policy(
        customer_name=body["customer_name"],
        customer_id_number=body["customer_id_number"],
        product_name=body["product_name"],
        product_type=body["product_type"],
    )
    return RecordingSession(template_id=body["template_id"], policy=policy.to_dict())


def test_node_of_finds_a_node_of_the_rendered_script() -> None:
    row = _row()
    first = rendered_nodes(row.template_id, Policy.from_dict(row.policy))[0]
    assert node_of(row, first.id) == first


def test_a_node_not_in_the_script_is_the_users_fault() -> None:
    with pytest.raises(SessionError) as caught:
        node_of(_row(), "no_such_node")
    assert (caught.value.status, caught.value.code) == (400, "unknown_node")
