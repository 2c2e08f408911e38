"""The media routes' validator and the preconditions a request may put on it (RFC 9110 §13).

A served file has one strong ``ETag``: a digest of what identifies its bytes (a local file's
inode, modification time and size; an archived object's store ETag and size), so a file made
again (a review video rendered anew, a copy moved to the archive) gets another tag, and the
digest shows nothing of the disk. No ``Last-Modified`` is sent: a modification time in
seconds is no strong validator, so an ``If-Range`` date never matches.

aiohttp's ``FileResponse`` is not used: the routes also serve objects from the archive, and
its ``If-Range`` handling reads only dates (an entity tag there is taken for no header at
all, and the range is served).
"""

from __future__ import annotations

import hashlib
import os
import re
from enum import Enum

from aiohttp import web

# One entity tag: optional W/, then a quoted run of etagc (RFC 9110 §8.8.3).
_TAG = r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"'
_TAG_RE = re.compile(_TAG)
_LIST_RE = re.compile(rf"\s*(?:{_TAG}|(\*))\s*(?:,|$)")


class Outcome(Enum):
    SEND = "send"  # the whole file or the range asked for
    WHOLE = "whole"  # ignore Range: If-Range did not match
    NOT_MODIFIED = "not_modified"  # 304
    FAILED = "failed"  # 412


def etag_of(*parts: object) -> str:
    """A strong entity tag for what ``parts`` identify."""
    digest = hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:32]
    return f'"{digest}"'


def local_etag(st: os.stat_result) -> str:
    return etag_of("file", st.st_ino, st.st_mtime_ns, st.st_size)


def _tags(header: str) -> list[tuple[bool, str]] | None:
    """(weak, opaque tag) of each entry of an If-Match / If-None-Match list, ``(False, "*")``
    for ``*``; None when the header is not such a list (then it is ignored, as aiohttp does)."""
    out: list[tuple[bool, str]] = []
    at = 0
    header = header.strip()
    while at < len(header):
        m = _LIST_RE.match(header, at)
        if m is None or m.end() == at:
            return None
        out.append((False, "*") if m.group(3) else (bool(m.group(1)), f'"{m.group(2)}"'))
        at = m.end()
    return out or None


def evaluate(request: web.BaseRequest, etag: str) -> Outcome:
    """RFC 9110 §13.2.2 for GET and HEAD, in its order: If-Match (strong comparison),
    If-None-Match (weak comparison), then If-Range (strong comparison with the one tag; any
    date, weak tag or garbage does not match, so the whole file is sent)."""
    headers = request.headers
    if (raw := headers.get("If-Match")) is not None and (tags := _tags(raw)) is not None:
        if not any(t == "*" or (not weak and t == etag) for weak, t in tags):
            return Outcome.FAILED
    if (raw := headers.get("If-None-Match")) is not None and (tags := _tags(raw)) is not None:
        if any(t in ("*", etag) for _weak, t in tags):
            return Outcome.NOT_MODIFIED
    if "Range" in headers and "If-Range" in headers:
        given = headers.getall("If-Range")  # a field of one value: two are no validator
        m = _TAG_RE.fullmatch(given[0].strip()) if len(given) == 1 else None
        if m is None or m.group(1) or f'"{m.group(2)}"' != etag:
            return Outcome.WHOLE
    return Outcome.SEND
