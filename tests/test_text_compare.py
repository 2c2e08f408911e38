"""Read text against what it should say: sentence similarity and coverage, names, signatures."""

from __future__ import annotations

import pytest

from inspection.text_compare import (
    clean_text,
    name_matches,
    sentence_coverage,
    sentence_partial_similarity,
    sentence_similarity,
    signature_matches,
    signature_score,
)
from tests.render import OTHER_SENTENCE, RISK_SENTENCE


def test_similarity_ignores_punctuation_and_traditional() -> None:
    traditional = (
        "本人已閱讀保險條款、產品說明書和投保提示書,了解本產品的特點和保單利益的不確定性。"
    )
    assert clean_text(traditional) == clean_text(RISK_SENTENCE)
    assert sentence_similarity(traditional, RISK_SENTENCE) == 1.0
    assert sentence_similarity("", RISK_SENTENCE) == 0.0
    assert sentence_similarity(RISK_SENTENCE, OTHER_SENTENCE) < 0.4


def test_similarity_drops_with_errors() -> None:
    one_wrong = RISK_SENTENCE.replace("特点", "持点")
    assert 0.95 < sentence_similarity(one_wrong, RISK_SENTENCE) < 1.0
    half = RISK_SENTENCE[: len(RISK_SENTENCE) // 2]
    assert sentence_similarity(half, RISK_SENTENCE) < 0.75
    assert sentence_partial_similarity(half, RISK_SENTENCE) == 1.0


def test_coverage_combines_frames_and_ignores_scattered_characters() -> None:
    first, second = RISK_SENTENCE[:20], RISK_SENTENCE[20:]
    share = len(clean_text(first)) / len(clean_text(RISK_SENTENCE))
    assert sentence_coverage([first], RISK_SENTENCE) == pytest.approx(share)
    assert sentence_coverage([first, second], RISK_SENTENCE) == 1.0
    assert sentence_coverage(["的了和本"], RISK_SENTENCE) == 0.0
    assert sentence_coverage([], RISK_SENTENCE) == 0.0


def test_name_matches_edits() -> None:
    assert name_matches("签名：欧阳娜哪", "欧阳娜娜")  # substitution
    assert name_matches("签名：欧阳娜", "欧阳娜娜")  # deletion
    assert name_matches("签名：欧阳娜娜娜", "欧阳娜娜")  # insertion
    assert not name_matches("签名：欧哪", "欧阳娜娜")
    assert not name_matches("签名：张", "张")  # one character is no name


def test_signature_matching() -> None:
    assert signature_matches("签名：张三", "张三")
    assert not signature_matches("签名：张王", "张三")
    assert signature_matches("签名 欧阳娜哪", "欧阳娜娜")  # one misread stroke in 4 characters
    assert not signature_matches("签名 欧阳哪哪", "欧阳娜娜")
    assert signature_score("签名：張三", "张三") == 1.0
    assert signature_score("签名：", "张三") < 0.5
