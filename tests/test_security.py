"""Join-link signing, password hashing, audit chain hashing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from server.app import build_context
from server.security import JoinSigner, TokenError, hash_password, verify_password
from tests.conftest import make_settings


def test_join_tokens_sign_verify_and_refuse() -> None:
    signer = JoinSigner(b"k1")
    token = signer.sign("s-0123456789abcdef", "n1", ttl_s=60, now=1000)
    claims = signer.verify(token, now=1030)
    assert (claims.session_id, claims.nonce, claims.expires_at) == (
        "s-0123456789abcdef",
        "n1",
        1060,
    )
    with pytest.raises(TokenError) as exc:
        signer.verify(token, now=2000)
    assert exc.value.code == "token_expired"
    with pytest.raises(TokenError) as exc:
        JoinSigner(b"other-key").verify(token, now=1030)
    assert exc.value.code == "token_invalid"
    tampered = token.replace("s-0123456789abcdef", "s-0123456789abcdee")
    with pytest.raises(TokenError) as exc:
        signer.verify(tampered, now=1030)
    assert exc.value.code == "token_invalid"
    for junk in ("", "a.b", "x" * 300):
        with pytest.raises(TokenError) as exc:
            signer.verify(junk)
        assert exc.value.code == "token_malformed"


def test_password_hash_roundtrip() -> None:
    stored = hash_password("s3cret-pass")
    assert stored.startswith("$argon2")
    assert verify_password(stored, "s3cret-pass")
    assert not verify_password(stored, "wrong")
    assert not verify_password("not-a-hash", "s3cret-pass")


def test_a_short_secret_key_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="kesu.app"):
        build_context(make_settings(tmp_path / "a", secret_key="changeme"))
    assert any("KESU_SECRET_KEY has 8 characters" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kesu.app"):
        build_context(make_settings(tmp_path / "b", secret_key="0123456789abcdef" * 4))
        build_context(make_settings(tmp_path / "c", secret_key=""))  # generated: 64 hex
    assert not [r for r in caplog.records if "KESU_SECRET_KEY" in r.getMessage()]
