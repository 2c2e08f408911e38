"""Security headers on every response (pages, static files, API answers, errors).

The pages load only their own ES modules and styles and talk only to this server (the
WebRTC media goes outside CSP's reach; a page sent to another media node navigates there).
So the policy allows ``'self'`` and nothing else, except inline ``style`` attributes (the
pages use a few) and ``data:``/``blob:`` images and media (QR codes, captured frames, local
camera previews). Nothing may frame a page (clickjacking of the consent and end buttons),
nothing is sniffed into another type, and no URL (a join link is a credential) leaves in a
Referer; API answers are never cached. Behind TLS (``Settings.https``) browsers are also
told to keep to HTTPS.
"""

from __future__ import annotations

from aiohttp import web

from server.context import CTX

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=(), payment=()",
}
#: Sent when the server is reached over HTTPS (``Settings.https``): one year.
HSTS = "max-age=31536000"


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/"):
        # Answers carry personal data (names, masked ID numbers): no cache keeps them.
        response.headers.setdefault("Cache-Control", "no-store")
    if request.app[CTX].settings.https:
        response.headers.setdefault("Strict-Transport-Security", HSTS)


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(_add_headers)
