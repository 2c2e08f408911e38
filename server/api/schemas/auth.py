"""Login, logout and the current user."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from server.api.schemas.common import SAFE, Body, Out


class LoginBody(Body):
    username: Annotated[str, Field(min_length=1, max_length=64), SAFE]
    password: Annotated[str, Field(min_length=1, max_length=1024), SAFE]


class UserOut(Out):
    id: int
    username: str
    role: Literal["admin", "salesperson", "reviewer"]
    display_name: str
    institution: str | None


class SessionUserOut(Out):
    """The logged-in user and the CSRF token to send as ``X-CSRF-Token`` on unsafe requests."""

    user: UserOut
    csrf_token: str
