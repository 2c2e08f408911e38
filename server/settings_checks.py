"""The settings that are text with a form of their own (a log level, rate limits, URLs, a port
range, IP addresses), checked when the settings are loaded (``server.settings.load_settings``).

Before, a mistake in one of them was found only where it was used: ``kesu serve`` had made the
data directory and the database, then died with a ValueError traceback (``log_level = LOUD``,
``login_account_limits = lots``, ``rtc_udp_ports = 9-2``, ``ice_stun_urls = http://x``,
``storage_url = ftp://x``), or served with join links that led nowhere (``public_url =
example.com``). Each check raises ValueError naming the setting and the form it wants."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(value: str) -> None:
    # What the root logger's setLevel takes: a level name logging knows (WARN too).
    if not isinstance(logging.getLevelName(value.strip().upper()), int):
        raise ValueError(f"must be one of {', '.join(_LEVELS)}")


def _log_format(value: str) -> None:
    if value not in ("text", "json"):
        raise ValueError("must be text or json")


def _rates(value: str) -> None:
    from server.login_failures import windows

    try:
        found = windows(value)
    except ValueError:
        found = ()
    if not found:
        raise ValueError("must be `limits` rate strings such as 5/minute;20/hour")


def _http_url(value: str) -> None:
    if not value:
        return
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError(
            "must be an http:// or https:// URL with a host, e.g. https://kesu.example.com"
        )


def _storage_url(value: str) -> None:
    if not value:
        return
    if value.startswith("s3://"):
        if not value.removeprefix("s3://").partition("/")[0]:
            raise ValueError("must name a bucket: s3://bucket/prefix")
        return
    from obstore.store import from_url

    try:
        from_url(value)
    except Exception as exc:  # obstore raises its own exception types for an unusable URL
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(
            f"must be empty, s3://bucket/prefix or file:///existing/directory ({first})"
        ) from None


def _port_range(value: str) -> None:
    from server.rtc.ice import parse_port_range

    parse_port_range(value)


def _ice_urls(schemes: tuple[str, ...]) -> Callable[[str], None]:
    def check(value: str) -> None:
        from server.rtc.turn import parse_urls

        parse_urls(value, schemes)

    return check


def _addresses(value: str) -> None:
    for item in (a.strip() for a in value.split(",")):
        if not item:
            continue
        try:
            ipaddress.ip_address(item)
        except ValueError:
            raise ValueError(
                f"must be IP addresses separated by commas, e.g. 192.0.2.10,2001:db8::1 "
                f"({item!r} is not one)"
            ) from None


_CHECKS: dict[str, Callable[[str], None]] = {
    "log_level": _log_level,
    "log_format": _log_format,
    "login_account_limits": _rates,
    "login_address_limits": _rates,
    "review_judge_limits": _rates,
    "retention_hold_limits": _rates,
    "public_url": _http_url,
    "node_url": _http_url,
    "storage_endpoint": _http_url,
    "storage_url": _storage_url,
    "rtc_udp_ports": _port_range,
    "rtc_host_addresses": _addresses,
    "ice_stun_urls": _ice_urls(("stun", "stuns")),
    "ice_turn_urls": _ice_urls(("turn", "turns")),
}


def check_settings(values: dict[str, Any]) -> None:
    """ValueError ``setting NAME: VALUE must be ...`` for the first malformed text setting of
    ``values`` (the settings given, after their types were checked)."""
    for name, check in _CHECKS.items():
        value = values.get(name)
        if not isinstance(value, str):
            continue
        try:
            check(value)
        except ValueError as exc:
            reason = str(exc)
            # The parsers' own messages (port range, ICE URLs) name the value already.
            said = reason if repr(value) in reason else f"{value!r} {reason}"
            raise ValueError(f"setting {name}: {said}") from None
