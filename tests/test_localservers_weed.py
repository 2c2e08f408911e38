"""The SeaweedFS helper of the tests starts even when a port it chose is taken meanwhile
(CI once lost eight S3 tests to ``bind: address already in use`` and to gRPC ports past
65535)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from server import localservers


def test_distinct_free_ports_are_different_and_valid() -> None:
    ports = localservers.distinct_free_ports(40)
    assert len(set(ports)) == 40
    assert all(1024 <= p <= 65535 for p in ports)


def test_weed_gets_no_port_beyond_65535(tmp_path: Path) -> None:
    args, endpoint = localservers._weed_args(tmp_path)
    ports = [
        int(a.split("=", 1)[1])
        for a in args
        if a.split("=", 1)[0].endswith(("port", "grpc", "iceberg", "lance"))
    ]
    assert len(ports) == 13 and len(set(ports)) == 13
    assert all(p <= 65535 for p in ports)
    assert endpoint.startswith("http://127.0.0.1:")


def test_weed_starts_again_when_its_port_was_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    real = localservers.distinct_free_ports
    calls: list[int] = []

    def first_with_a_taken_port(count: int) -> list[int]:
        ports = real(count)
        calls.append(count)
        if len(calls) == 1:
            ports[4] = taken.getsockname()[1]  # webdav.port, as in the CI failure
        return ports

    monkeypatch.setattr(localservers, "distinct_free_ports", first_with_a_taken_port)
    try:
        with localservers.seaweed_s3(tmp_path) as s3:
            try:
                urllib.request.urlopen(f"{s3.endpoint}/{s3.bucket}", timeout=5)
            except urllib.error.HTTPError as exc:
                assert exc.code == 403  # up, and asking for credentials
    finally:
        taken.close()
    assert len(calls) == 2
