"""STUN/TURN servers for ICE, with coturn's time-limited REST credentials.

coturn's ``use-auth-secret`` scheme (draft-uberti-behave-turn-rest): the username is
``"<expiry unix time>:<user>"`` and the password is ``base64(HMAC-SHA1(secret, username))``.
coturn recomputes the HMAC with the same shared secret and refuses expired usernames, so no
per-user state is kept anywhere and a leaked credential stops working at its expiry.
The secret itself never leaves this module: only derived credentials are handed out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCIceServer

# coturn splits the username at its first ':' (rest-api-separator); keep the user part plain.
_USER_SAFE = re.compile(r"[^A-Za-z0-9_.@-]")
_URL_RE = re.compile(r"^(stun|stuns|turn|turns):[^\s,]+$")


@dataclass(frozen=True)
class TurnCredential:
    username: str
    credential: str
    expires_at: int


def turn_credential(
    secret: str, user: str, ttl_s: float, now: float | None = None
) -> TurnCredential:
    """A credential coturn accepts until ``now + ttl_s`` (``static-auth-secret`` = ``secret``)."""
    expires = int((time.time() if now is None else now) + ttl_s)
    username = f"{expires}:{_USER_SAFE.sub('_', user) or 'kesu'}"
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode("ascii"), expires)


def parse_urls(text: str, schemes: tuple[str, ...]) -> tuple[str, ...]:
    """Comma-separated ICE server URLs, each of one of ``schemes``; ValueError otherwise."""
    urls = tuple(u.strip() for u in text.split(",") if u.strip())
    for url in urls:
        if not _URL_RE.match(url) or url.split(":", 1)[0] not in schemes:
            raise ValueError(f"{url!r} is not a {'/'.join(schemes)}: URL")
    return urls


@dataclass(frozen=True)
class IceServers:
    """The configured STUN and TURN servers (empty = none: direct connections only)."""

    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = field(default="", repr=False)
    turn_ttl_s: float = 86400.0

    def __post_init__(self) -> None:
        if self.turn_urls and not self.turn_secret:
            raise ValueError("TURN URLs need ice_turn_secret (coturn's static-auth-secret)")
        if self.turn_ttl_s <= 0:
            raise ValueError("ice_turn_ttl_s must be positive")

    @classmethod
    def from_settings(cls, settings: Any) -> IceServers:
        """From the server's ``ice_*`` settings (duck-typed; missing = none)."""
        return cls(
            stun_urls=parse_urls(getattr(settings, "ice_stun_urls", "") or "", ("stun", "stuns")),
            turn_urls=parse_urls(getattr(settings, "ice_turn_urls", "") or "", ("turn", "turns")),
            turn_secret=getattr(settings, "ice_turn_secret", "") or "",
            turn_ttl_s=float(getattr(settings, "ice_turn_ttl_s", cls.turn_ttl_s)),
        )

    def browser_config(self, user: str, now: float | None = None) -> list[dict[str, Any]]:
        """``RTCConfiguration.iceServers`` for a browser: fresh credentials for ``user``."""
        out: list[dict[str, Any]] = []
        if self.stun_urls:
            out.append({"urls": list(self.stun_urls)})
        if self.turn_urls:
            cred = turn_credential(self.turn_secret, user, self.turn_ttl_s, now)
            out.append(
                {
                    "urls": list(self.turn_urls),
                    "username": cred.username,
                    "credential": cred.credential,
                }
            )
        return out

    def rtc_servers(self, user: str) -> list[RTCIceServer]:
        """The same for the server's own aiortc connections (aiortc uses the first STUN and
        the first TURN URL)."""
        return [RTCIceServer(**server) for server in self.browser_config(user)]
