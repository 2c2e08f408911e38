"""The one exception of the model registry: what is wrong with a model and how to fix it."""

from __future__ import annotations


class ModelError(Exception):
    """A model is missing, corrupt or cannot be prepared; the message says how to fix it."""

    def __init__(self, model: str, state: str, detail: str, fix: str) -> None:
        super().__init__(f"{detail}. Fix: {fix}")
        self.model = model
        self.state = state  # "missing" | "corrupt" | "unknown"
        self.detail = detail
        self.fix = fix
