"""Join-link signing, password hashing, audit chain hashing."""

from __future__ import annotations

import pytest

from server.security import JoinSigner, TokenError, hash_password, verify_password


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
