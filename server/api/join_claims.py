"""The join token of a request, verified once per request.

A request under ``/api/join/{token}`` is looked at twice: by the forward middleware (which
node holds the token's session) and by the join handler (which session, which nonce). Both
call :func:`claims_of`, which verifies the token's MAC and expiry the first time and keeps
the result (the claims, or the error) on the request for the second.
"""

from __future__ import annotations

from aiohttp import web

from server.context import CTX
from server.security import JoinClaims, TokenError

_CLAIMS = web.RequestKey("kesu_join_claims", object)


def claims_of(request: web.Request) -> JoinClaims:
    """The verified claims of the request's ``{token}``; raises :class:`TokenError` (the same
    one each time) for a malformed, forged or expired token."""
    found = request.get(_CLAIMS)
    if found is None:
        try:
            found = request.app[CTX].signer.verify(request.match_info["token"])
        except TokenError as exc:
            found = exc
        request[_CLAIMS] = found
    if isinstance(found, TokenError):
        raise found
    assert isinstance(found, JoinClaims)
    return found
