"""Same-origin check for unsafe requests: the browser's Origin (or Referer) must name this site.

Browsers send ``Origin`` on every fetch() POST, also same-origin ones, so a request whose Origin
(or, without one, Referer) names another site is a cross-site request: refused before any
handler runs, login included (login CSRF). Requests with neither header come from non-browser
clients (the CLI, scripts), which a foreign page cannot drive; they pass. ``null`` is refused.
"""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from server.api.errors import Forbidden
from server.settings import Settings

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _authority(url: str) -> str | None:
    """``host[:port]`` of an absolute http(s) URL, default port left out; None otherwise."""
    try:
        parsed = URL(url)
        # yarl decodes an ``xn--`` label when .host is read: one that is not punycode
        # raises UnicodeError (a ValueError), a 500 for any client before this was inside.
        scheme, name = parsed.scheme, parsed.host
        port = parsed.explicit_port
        default = parsed.is_default_port()
    except (ValueError, TypeError):
        return None
    if scheme not in ("http", "https") or not name:
        return None
    host = f"[{name}]" if ":" in name else name
    return host if port is None or default else f"{host}:{port}"


def same_site(request: web.Request, settings: Settings, url: str) -> bool:
    """Whether ``url`` (an Origin or Referer) names this server or the configured public URL.

    The scheme is not compared: behind a TLS proxy the server sees http while the browser
    says https, and the other scheme on the same host is not another site's page.
    The request's own Host counts with a public URL set too: a node's own ``node_url`` and
    staff on localhost post from there, and a foreign page's Origin never equals the Host
    its browser sends (docs/security.md, "Cross-site requests").
    """
    authority = _authority(url)
    if authority is None:
        return False
    allowed = {_authority(f"{request.scheme}://{request.host}")}
    if settings.public_url:
        public = _authority(settings.public_url)
        if public:
            allowed.add(public)
    return authority in allowed - {None}


def check_origin(request: web.Request, settings: Settings) -> None:
    if request.method not in UNSAFE:
        return
    header = "Origin" if "Origin" in request.headers else "Referer"
    # Every value: each header holds one, and a second naming another site (a browser never
    # sends two) must not pass behind a first that names this one.
    sources = request.headers.getall(header, [])
    if not all(same_site(request, settings, source) for source in sources):
        raise Forbidden(
            "cross-site request refused: Origin/Referer is not this site",
            code="origin_mismatch",
            details={"header": header},
        )
