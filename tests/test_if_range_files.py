"""Pages and static files and RFC 9110's If-Range (13.1.5): a Range sent with an If-Range
that does not match the current strong validator gets the whole file. aiohttp's
``FileResponse`` reads only a date there (an entity tag is taken for no If-Range at all,
and a date is compared with ``<=``, not for equality), so it served the range: a browser
resuming a cached module after an upgrade would join bytes of two versions. The media
routes: tests/test_api_media.py."""

from __future__ import annotations

import aiohttp
import pytest
from yarl import URL

from tests.conftest import RunningServer

STATIC = "/static/js/i18n.js"
PAGE = "/join/s-0000000000000000.x.y.z"


@pytest.mark.parametrize("path", [STATIC, PAGE])
async def test_a_range_with_an_if_range_gets_the_whole_file(
    server: RunningServer, path: str
) -> None:
    async with aiohttp.ClientSession() as http:
        url = server.url + path
        async with http.get(url) as r:
            assert r.status == 200
            whole = await r.read()
            content_type = r.headers["Content-Type"]
        # A plain Range is still answered (aiohttp's FileResponse).
        async with http.get(url, headers={"Range": "bytes=0-9"}) as r:
            assert r.status == 206 and await r.read() == whole[:10]
        for if_range in (
            '"bogus"',
            'W/"bogus"',
            "Thu, 01 Jan 2099 00:00:00 GMT",  # later than the file: not its Last-Modified
            "garbage",
        ):
            headers = {"Range": "bytes=0-9", "If-Range": if_range}
            async with http.get(url, headers=headers) as r:
                assert r.status == 200, (path, if_range)
                assert "Content-Range" not in r.headers
                assert r.headers["Content-Type"] == content_type
                assert await r.read() == whole, if_range
            async with http.head(url, headers=headers) as r:
                assert r.status == 200, (path, if_range)
                assert int(r.headers["Content-Length"]) == len(whole)
        # Only a file aiohttp itself serves: the refusals stay as they were.
        async with http.get(
            URL(server.url + "/static/%2e%2e/%2e%2e/secret.key", encoded=True),
            headers={"Range": "bytes=0-9", "If-Range": '"x"'},
        ) as r:
            assert r.status == 404
