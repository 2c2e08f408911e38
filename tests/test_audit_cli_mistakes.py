"""``kesu audit`` given what cannot work says so in one line, exit 2: a ``--public-key``
without ``--export`` (before: ignored, and the archive reported "intact" with no key of the
operator's checked), a key file that is no key (before: Python's "non-hexadecimal number
found in fromhex() arg"), a directory as the key ("[Errno 21] ...")."""

from __future__ import annotations

from pathlib import Path

from tests.cli_run import kesu


def test_a_public_key_without_an_export_is_refused(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert kesu("migrate", "--data-dir", data, cwd=tmp_path).returncode == 0
    key = tmp_path / "kesu-audit.pub"
    key.write_text("00" * 32 + "\n", encoding="utf-8")
    done = kesu("audit", "verify", "--data-dir", data, "--public-key", str(key), cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done
    assert "--public-key checks an evidence zip: give it with --export FILE" in done.stderr
    assert "intact" not in done.stdout


def test_a_key_file_that_is_no_key_is_named_so(tmp_path: Path) -> None:
    zip_path = tmp_path / "e.zip"
    zip_path.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    key = tmp_path / "passwd"
    key.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    for given, said in [
        (key, "not a public key (the 64 hex digits `kesu audit public-key` prints)"),
        (tmp_path, "is a directory, not a key file"),
    ]:
        argv = ("audit", "verify", "--export", str(zip_path), "--public-key", str(given))
        done = kesu(*argv, cwd=tmp_path)
        assert done.returncode == 2, done
        assert done.stderr.strip() == f"kesu audit: --public-key {given}: {said}", done.stderr
