"""The base of every error a user can cause: it carries its HTTP status and a stable code."""

from __future__ import annotations

from typing import Any


class KesuError(Exception):
    """A fault with an HTTP status, a machine code and a message fit to show the user."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}
