"""Forbidden wording: exact, homophone and one-syllable-off matches; negation and context guards."""

from __future__ import annotations

import pytest

from inspection.forbidden import DEFAULT_LEXICON, ForbiddenHit, find_forbidden, lexicon_with
from inspection.speech import Utterance
from inspection.transcript import build_stream


def _hits(*texts: str, extra: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    utts = [Utterance("salesperson", i * 10.0, i * 10.0 + 5.0, t) for i, t in enumerate(texts)]
    return [
        (h.phrase, h.matched, h.how)
        for h in find_forbidden(build_stream(utts), lexicon_with(extra))
    ]


def test_exact_phrases_with_times() -> None:
    utts = [Utterance("salesperson", 2.0, 4.0, "这个产品保本保息。")]
    hits = find_forbidden(build_stream(utts))
    assert hits == [
        ForbiddenHit(
            phrase="保本保息",
            category="guaranteed_return",
            matched="保本保息",
            how="chars",
            score=1.0,
            participant="salesperson",
            start_s=3.0,
            end_s=4.0,
            context="这个产品保本保息",
        )
    ]


def test_several_phrases_longest_wins() -> None:
    assert _hits("这款产品保本保息，稳赚不赔，比存款利息还高。") == [
        ("保本保息", "保本保息", "chars"),  # not also 保本
        ("稳赚不赔", "稳赚不赔", "chars"),
        ("存款", "存款", "chars"),  # the 不 of 稳赚不赔 does not negate it
        ("利息", "利息", "chars"),
    ]


def test_scores() -> None:
    utts = [Utterance("salesperson", 0.0, 5.0, "这款产品报本报息，稳正不陪，保证收益")]
    hits = find_forbidden(build_stream(utts))
    assert [(h.how, h.score) for h in hits] == [("pinyin", 0.95), ("fuzzy", 0.675), ("chars", 1.0)]


def test_asr_homophones_and_near_misses() -> None:
    assert _hits("这款产品报本报息，稳正不陪") == [
        ("保本保息", "报本报息", "pinyin"),
        ("稳赚不赔", "稳正不陪", "fuzzy"),
    ]


def test_inducements_and_superlatives() -> None:
    assert _hits("限时优惠，下个月就停售了") == [
        ("限时", "限时", "chars"),
        ("停售", "停售", "chars"),
    ]
    assert _hits("这是唯一一款", "首期返现两千元") == [
        ("唯一", "唯一", "chars"),
        ("返现", "返现", "chars"),
    ]
    assert _hits("这是市面上最好的产品") == [("最好", "最好", "chars")]
    assert _hits("我们这个是最好。") == [("最好", "最好", "chars")]


@pytest.mark.parametrize(
    "text",
    [
        "保险不是存款，也没有利息",  # compliant statements negate the phrase
        "本产品不保证收益，分红是不确定的",
        "本产品不是银行存款",
        "不会有利息",
        "本产品不保本",
        "保单利益以合同为准",  # 利益 is not 利息 (li yi vs li xi)
        "您可以申请保单贷款，贷款利息按合同约定",  # a policy-loan term
        "理赔款会存入您的账户",  # paying out, not a deposit
        "您最好仔细阅读条款",  # advice, not a superlative
        "屏幕上显示的是您的保单",  # 显示 sounds like 限时 but shares no character
        "请您认真阅读免责条款",
    ],
)
def test_no_false_positives(text: str) -> None:
    assert _hits(text) == []


def test_negation_words_that_do_not_negate() -> None:
    assert _hits("不管怎样都稳赚不赔") == [("稳赚不赔", "稳赚不赔", "chars")]


def test_template_phrases_added_once() -> None:
    lex = lexicon_with(["收益翻倍", "保本保息", " "])
    assert len(lex) == len(DEFAULT_LEXICON) + 1
    assert _hits("这个产品收益翻倍", extra=("收益翻倍",)) == [("收益翻倍", "收益翻倍", "chars")]
    assert _hits("这个产品收益翻倍") == []


def test_phrase_split_across_utterances() -> None:
    assert _hits("我们这款产品稳赚", "不赔的") == [("稳赚不赔", "稳赚不赔", "chars")]


# Sound-alike (not homophone) misrecognitions of the 4-character promises: two or more
# different characters kept, the others replaced by syllables sharing a final or an initial.
SOUND_ALIKES = [
    ("稳赚不赔", "稳克不黑"),
    ("稳赚不赔", "稳转不陪"),  # homophones: matched before, kept
    ("稳赚不赔", "稳克不配"),
    ("稳赚不赔", "稳站不背"),
    ("保证收益", "保正收一"),
    ("保证收益", "保镇手益"),
    ("保本保息", "宝本报西"),
]


@pytest.mark.parametrize(("phrase", "heard"), SOUND_ALIKES)
@pytest.mark.parametrize(
    "frame", ["这款产品{}，您放心。", "我跟您说，{}的。", "{}，而且收益很高。"]
)
def test_sound_alike_promise_is_a_review_hit(phrase: str, heard: str, frame: str) -> None:
    utts = [Utterance("salesperson", 0.0, 5.0, frame.format(heard))]
    hits = [h for h in find_forbidden(build_stream(utts)) if h.phrase == phrase]
    assert [h.matched for h in hits] == [heard], hits
    assert hits[0].how != "chars" and 0.5 <= hits[0].score < 1.0  # review, never fail


@pytest.mark.parametrize(
    "text",
    [
        "他成为一级客户以后可以享受服务。",  # 为一 sounds like 唯一 but cuts 一级 in two
        "这个是为一个客户准备的方案。",
        "因为一年以后才生效。",
        "您可以选择稳健的产品，不会赔本。",  # 稳 and 不 alone are not the promise
        "保单保险期间为二十年。",  # 保 twice is one character, not two kept
        "保证金收据请您收好。",
    ],
)
def test_sound_alike_guards(text: str) -> None:
    utts = [Utterance("salesperson", 0.0, 5.0, text)]
    assert find_forbidden(build_stream(utts)) == []


# One syllable inside a 4-character promise misheard (frozen test split: 稳赚不赔 heard as 稳定
# 不赔, similarity 0.75, was dropped below forbidden_similarity and the promise never shown).
INSIDE = [
    ("稳赚不赔", "稳定不赔"),
    ("稳赚不赔", "稳赚也赔"),
    ("保证收益", "保存收益"),
    ("保证收益", "保证手益"),
    ("保本保息", "保险保息"),
    ("保本保息", "保本是息"),
]


@pytest.mark.parametrize(("phrase", "heard"), INSIDE)
@pytest.mark.parametrize("frame", ["这款产品{}，您放心。", "跟您说实话，这个产品都是{}。"])
def test_one_syllable_off_inside_a_promise_is_a_review_finding(
    phrase: str, heard: str, frame: str
) -> None:
    from inspection.rules import Thresholds
    from inspection.rules.speech import forbidden_findings
    from inspection.script_stage import _hit

    utts = [Utterance("salesperson", 0.0, 5.0, frame.format(heard))]
    hits = [h for h in find_forbidden(build_stream(utts)) if h.phrase == phrase]
    assert [h.matched for h in hits] == [heard], hits
    found = forbidden_findings([_hit(h) for h in hits], Thresholds())
    assert [(f.severity, f.evidence["phrase"]) for f in found] == [("review", phrase)]
    # An operator's forbidden_similarity 1.0 means exact matches only.
    assert forbidden_findings([_hit(h) for h in hits], Thresholds(forbidden_similarity=1.0)) == []


@pytest.mark.parametrize(
    "text",
    [
        "我保证回复您。",
        "我们保证回款及时。",
        "重新投保才能继续保证需保的时候",  # two characters off (babble probe, a clean line)
        "这款产品稳正不陪",  # two characters off: only the similarity decides (0.675)
    ],
)
def test_one_syllable_off_at_the_end_of_a_promise_is_no_finding(text: str) -> None:
    from inspection.rules import Thresholds
    from inspection.rules.speech import forbidden_findings
    from inspection.script_stage import _hit

    utts = [Utterance("salesperson", 0.0, 5.0, text)]
    assert (
        forbidden_findings([_hit(h) for h in find_forbidden(build_stream(utts))], Thresholds())
        == []
    )


def test_a_weaker_longer_match_does_not_hide_a_phrase() -> None:
    # 保本保险 was one "fuzzy" 保本保息 (0.75, below forbidden_similarity, so never reported)
    # and that match hid the 保本 said in it.
    assert _hits("这个产品保本保险，您放心。") == [("保本", "保本", "chars")]


def test_sound_alike_hit_is_reported_for_review() -> None:
    from inspection.rules import Thresholds
    from inspection.rules.speech import forbidden_findings
    from inspection.script_stage import _hit

    utts = [Utterance("salesperson", 0.0, 5.0, "这款产品稳克不黑，您放心。")]
    (hit,) = find_forbidden(build_stream(utts))
    (finding,) = forbidden_findings([_hit(hit)], Thresholds())
    assert finding.severity == "review" and finding.evidence["phrase"] == "稳赚不赔"


# A phrase heard in other characters that are part of a longer word the recogniser wrote was
# most likely that word (受益人, the beneficiary): no hit, unless the phrase's own characters
# make a word there too (收益率), or only the misheard last character is glued forward
# (稳赚不陪伴: RAN_ON below).
@pytest.mark.parametrize(
    "text",
    [
        "我们保证受益人方面的权益。",  # 受益人: 收益人 is no word; 益 is the phrase's own
        "我们保证受理赔案。",  # 受理: 受 is the phrase's misheard 收, but 理 is not 益
    ],
)
def test_homophone_inside_a_longer_word_is_that_word(text: str) -> None:
    assert _hits(text) == []


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("我们包正收益率很高。", ("保证收益", "包正收益", "pinyin")),  # 收益率 is a word too
        ("我们保证受益很高。", ("保证收益", "保证受益", "pinyin")),  # on word boundaries
        ("这款产品保证收益率很高。", ("保证收益", "保证收益", "chars")),  # its own characters
    ],
)
def test_homophone_that_fits_the_words_is_kept(text: str, hit: tuple[str, str, str]) -> None:
    assert _hits(text) == [hit]


# Whisper writes a misheard syllable of a phrase as a same-tone homophone that makes a word
# with the next character, while the phrase's own character stands alone:
# 停售冷 heard in a faint room as 停受冷 (受冷 is a word). Still the phrase, for review.
RAN_ON = [
    ("停售", "这款产品下个月就停受冷。", "停受"),  # dev10 in customer hum 33 dB (probe h33)
    ("停售", "这款产品下个月就停寿险了。", "停寿"),
    ("返佣", "首期给您返用户两千元。", "返用"),
    ("返现", "首期返线下发放。", "返线"),
    ("秒杀", "今天可以秒沙发。", "秒沙"),
    ("限时", "这款限实惠优惠。", "限实"),
    ("利息", "比银行的利西瓜还高。", "利西"),
    # Longer phrases too: every syllable heard, only the last one glued forward.
    ("稳赚不赔", "这款产品稳赚不陪伴您一生。", "稳赚不陪"),
    # Were no hits (培训, 陪伴: 赔训, 赔伴 are no words), though every syllable was heard.
    ("稳赚不赔", "这款产品稳赚不培训的。", "稳赚不培"),
    ("稳赚不赔", "他说稳赚不陪伴家人。", "稳赚不陪"),
    ("保本保息", "这个是保本保惜命的产品。", "保本保惜"),
    ("保证收益", "这款保证收义务都有。", "保证收义"),
    ("零风险", "这款零风显示得很清楚。", "零风显"),
]


@pytest.mark.parametrize(("phrase", "text", "heard"), RAN_ON)
def test_homophone_run_into_the_next_word_is_a_review_hit(
    phrase: str, text: str, heard: str
) -> None:
    from inspection.rules import Thresholds
    from inspection.rules.speech import forbidden_findings
    from inspection.script_stage import _hit

    extra = ("保本保息", "稳赚不赔", "保证收益", "停售", "返佣", "最好", "零风险")  # dev template
    assert _hits(text, extra=extra) == [(phrase, heard, "pinyin")]
    (hit,) = find_forbidden(build_stream([Utterance("salesperson", 0.0, 5.0, text)]))
    (finding,) = forbidden_findings([_hit(hit)], Thresholds())
    assert finding.severity == "review"


@pytest.mark.parametrize(
    "text",
    [
        "本卡限使用一次。",  # 使用 is shi3, 限时 shi2: a word said, not a misheard syllable
        "这是最豪华的产品。",  # 豪 hao2, 好 hao3
        "这款产品下个月停收费。",  # 收 shou1, 售 shou4
        "今天可以秒傻瓜。",  # 傻 sha3, 杀 sha1
        "这是农村款的产品。",  # 村 cun1, 存 cun2
        "这份保单稳赚不配合。",  # 配 pei4, 赔 pei2
        "保证受益人是您的家人。",  # the phrase's own 益 is part of 受益人
        "这款是珠宝本金的。",  # the phrase's own 本 is part of 本金
        "他成为一级客户以后可以享受服务。",  # own 一 is part of 一级
        # A first syllable glued to the word before is no hit: such words are said all the
        # time (出现, 发现, 在线 + 时 read like 限时), a misheard syllable glued there rarely.
        "情况出现时我们会通知您。",
        "客户发现时可以马上联系我们。",
        "您在线时可以随时查看保单。",
        "我们这个是犯罪好的产品。",
        "这款是思维一。",
        "这款是元宝本的产品。",
    ],
)
def test_word_said_next_to_a_phrase_character_is_no_hit(text: str) -> None:
    assert _hits(text) == []
