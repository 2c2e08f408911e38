"""The errors the media layer raises; each carries a stable code the API maps to a 4xx/503."""

from __future__ import annotations


class RtcError(Exception):
    """A participant's request the media layer refuses (the user's fault unless said)."""

    #: Suggested HTTP status per code, for the API layer (rtc itself knows no HTTP).
    STATUS = {
        "sdp_too_large": 413,
        "sdp_malformed": 400,
        "sdp_media_missing": 400,
        "codec_unsupported": 400,
        "role_invalid": 400,
        "role_taken": 409,
        "room_closed": 409,
        "session_ended": 409,
        "playback_busy": 409,
        "playback_failed": 500,
        "negotiation_failed": 500,
    }

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return self.STATUS.get(self.code, 400)

    @property
    def user_fault(self) -> bool:
        return self.status < 500


class OwnerLimitError(RtcError):
    """One owner's sessions hold as many rooms as one owner may (the API answers 429)."""

    STATUS = {"too_many_live_sessions": 429}

    def __init__(self, limit: int, self_service: bool = False) -> None:
        super().__init__(
            "too_many_live_sessions",
            f"this salesperson's self-service recordings already hold {limit} live call(s), "
            "the most allowed at once; try again in a few minutes"
            if self_service
            else f"your sessions already hold {limit} live call(s), the most one person may; "
            "end one first",
        )


class CapacityError(RtcError):
    """All concurrent-room slots are taken (the API answers 503)."""

    STATUS = {"capacity": 503}

    def __init__(self, message: str = "the server is at its concurrent-session limit") -> None:
        super().__init__("capacity", message)
