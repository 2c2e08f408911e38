"""What is said in the v2 corpus, written by hand per split, independently of the templates.

Each split has its own template (tests/data/templates/insurer_dev.yaml, insurer_test.yaml,
both in an insurer's own words), its own policies, and its own *spoken* wording: every
salesperson node is read in one of two hand-written paraphrases (with fillers and small
slips, as people read from a teleprompter), never in the template's exact words. Customer
answers come from a small grammar (filler prefix + core + tail) whose parts differ per
split. Nothing here is shared between the splits; tests/test_make_corpus_v2.py checks it.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from datetime import date

from inspection.idnumber import make_id
from inspection.policy import Policy
from tests.corpus_policies import base_policies


@dataclass(frozen=True)
class Grammar:
    """Customer answers: every prefix x core (x tail for negative kinds) is a sentence."""

    prefixes: tuple[str, ...]
    consent: tuple[str, ...]
    understood: tuple[str, ...]
    identity: tuple[str, ...]
    hedges: tuple[str, ...]  # unsure: 不太清楚 ... (a non-affirmative answer)
    refusals: tuple[str, ...]  # negations: 不同意 ...
    tails: tuple[str, ...]  # after a hedge/refusal: a request to explain again

    def expand(self, kind: str) -> tuple[str, ...]:
        cores: tuple[str, ...] = getattr(self, kind)
        tails = self.tails if kind in ("hedges", "refusals") else ("",)
        return tuple(p + c + t for p, c, t in itertools.product(self.prefixes, cores, tails))

    def all(self) -> list[str]:
        kinds = ("consent", "understood", "identity", "hedges", "refusals")
        return [s for k in kinds for s in self.expand(k)]


@dataclass(frozen=True)
class Wording:
    split: str
    template_file: str  # in tests/data/templates
    policies: dict[str, Policy]
    spoken: dict[str, tuple[str, ...]]  # node id -> paraphrases (with {placeholders})
    fillers: tuple[str, ...]  # spoken as separate clips before a line
    greetings: tuple[str, ...]  # un-templated opening line before the first node
    grammar: Grammar
    questions_back: tuple[tuple[str, str], ...]  # (customer question, salesperson reply)
    forbidden: tuple[str, ...]  # sentences with a phrase of the template's forbidden list
    roles: dict[str, str] = field(default_factory=dict)  # role in the kinds -> node id
    wrong_premium_delta: int = 3000  # a misstated premium: the policy's plus this
    wrong_days: int = 10  # a misstated cooling-off period

    def node(self, role: str) -> str:
        return self.roles[role]

    def say(self, node_id: str, variant: int, policy: Policy) -> str:
        """Paraphrase ``variant`` of ``node_id`` with the policy's values filled in."""
        texts = self.spoken[node_id]
        return texts[variant % len(texts)].format(**policy.placeholders())

    def wrong_policy(self, policy: Policy, field_name: str) -> Policy:
        """``policy`` with one value misstated (what the salesperson wrongly says)."""
        if field_name == "premium":
            return dataclasses.replace(
                policy, premium=(policy.premium or 0) + self.wrong_premium_delta
            )
        return dataclasses.replace(policy, cooling_off_days=self.wrong_days)

    def lines(self) -> list[str]:
        """Every text a session of this split can speak (for TTS synthesis)."""
        out: list[str] = []
        for policy in self.policies.values():
            values = policy.placeholders()
            for texts in self.spoken.values():
                out += [t.format(**values) for t in texts]
            out += [g.format(**values) for g in self.greetings]
            out += [r.format(**values) for _, r in self.questions_back]
            for role, name in (("premium", "premium"), ("cooling_off", "cooling_off_days")):
                out.append(self.say(self.node(role), 0, self.wrong_policy(policy, name)))
        out += list(self.fillers) + [q for q, _ in self.questions_back] + list(self.forbidden)
        out += self.grammar.all()
        return list(dict.fromkeys(out))


# Node roles used by the session kinds (tests/corpus_v2/plan.py).
ROLE_KEYS = (
    "consent",
    "reminder",
    "understood",
    "id_card",
    "signature",
    "premium",
    "cooling_off",
    "skippable",
    "after_product",
)

DEV = Wording(
    split="dev",
    template_file="insurer_dev.yaml",
    policies=base_policies(),
    spoken={
        "consent": (
            "您好，接下来我们这个投保过程是全程录音录像的，您同意吗？",
            "那个，咱们接下来的投保过程会全程录音录像，请问您同意吗？",
        ),
        "reminder": (
            "这次录音录像对您以后维护自己的权益非常重要，请您认真看一下签的文件，每个问题都如实回答。",
            "本次录音录像对您日后维护权益十分重要，您签的文件请认真阅读，问题也请如实回答。",
        ),
        "introduction": (
            "我是{institution}的销售人员{salesperson_name}，这个是我的执业证，您看一下。",
            "我叫{salesperson_name}，是{institution}的保险销售人员，这是我的执业证。",
        ),
        "is_insurance": (
            "您投保的这个{product_name}是保险产品，不是储蓄，也不是理财产品，承保的是{institution}。",
            "{product_name}呢属于保险产品，不属于储蓄或者理财，是由{institution}承保的。",
        ),
        "premium": (
            "交费方式是{payment_method}，每期交{premium}元，一共交{payment_period}，保险期间是{insurance_period}。",
            "这个产品{payment_method}，每期保费{premium}元，要交{payment_period}，保障期间为{insurance_period}。",
        ),
        "cooling_off": (
            "合同签收以后您有{cooling_off_days}天的犹豫期，在犹豫期里解除合同的话，保费全额退还。",
            "签收合同后有{cooling_off_days}天犹豫期，犹豫期内您解除合同，可以全额退保费。",
        ),
        "surrender": (
            "要是过了犹豫期再解除合同，就只能退保单的现金价值，可能会有一定的损失。",
            "犹豫期过后再退保的话，只退还现金价值，您可能会有损失。",
        ),
        "confirm_understood": (
            "刚才讲的这些，您都清楚了吗？",
            "前面说的这些内容，您是不是都清楚了？",
        ),
        "id_card": (
            "麻烦您把身份证的正面对着镜头，确认一下是您本人投保的，对吧？",
            "请您把身份证正面对准镜头，确认是您本人来投保的，是吧？",
        ),
        "signature": (
            "请您在投保单上签个名，再把风险提示语句抄一遍，写好了对着镜头给我看一下。",
            "麻烦您在投保单上签名，把风险提示语句抄写一遍，然后拿到镜头前。",
        ),
        "closing": (
            "好的，今天的录音录像就到这儿，谢谢您。",
            "好，那咱们今天就录到这里，谢谢您的配合。",
        ),
    },
    fillers=("嗯", "那个"),
    greetings=("{customer_name}您好，我们现在开始吧。",),
    grammar=Grammar(
        prefixes=("", "嗯，", "哦，"),
        consent=("同意", "我同意", "可以，同意"),
        understood=("清楚", "清楚了", "都清楚"),
        identity=("是我本人", "对，是我本人"),
        hedges=("不太清楚", "不是很明白"),
        refusals=("不同意", "我不同意"),
        tails=("", "，你再讲讲吧"),
    ),
    questions_back=(
        ("犹豫期是多少天来着？", "是{cooling_off_days}天，从您签收合同那天开始算。"),
        ("那退保的话会亏钱吗？", "犹豫期过后退保，只退现金价值，会有一些损失。"),
    ),
    forbidden=("您放心，这个产品保本保息，稳赚不赔的。", "这款产品下个月就停售了，您要抓紧。"),
    roles={
        "consent": "consent",
        "reminder": "reminder",
        "understood": "confirm_understood",
        "id_card": "id_card",
        "signature": "signature",
        "premium": "premium",
        "cooling_off": "cooling_off",
        "skippable": "surrender",
        "after_product": "premium",
    },
)

TEST = Wording(
    split="test",
    template_file="insurer_test.yaml",
    policies={
        "c": Policy(
            customer_name="赵秀英",
            customer_id_number=make_id(date(1962, 8, 21), "440106", 318),
            product_name="泰和福瑞定期寿险",
            salesperson_name="王磊",
            institution="泰和人寿",
            premium=6800,
            payment_method="年交",
            payment_years=20,
            insurance_years=30,
            cooling_off_days=15,
        ),
        "d": Policy(
            customer_name="孙志强",
            customer_id_number=make_id(date(1955, 2, 14), "110108", 517),
            product_name="瑞丰安心终身寿险",
            salesperson_name="黄丽",
            institution="瑞丰人寿",
            premium=23500,
            payment_method="年交",
            payment_years=10,
            insurance_years=None,
            cooling_off_days=20,
        ),
    },
    spoken={
        "agree_recording": (
            "您好，按照监管的要求，咱们这次销售过程要同步录音录像，请问您同意录制吗？",
            "您好，根据监管规定，这次销售需要同步录音录像，您同不同意录制？",
        ),
        "rights_notice": (
            "录音录像的内容是您以后维护合法权益的重要依据，请您如实回答，有不清楚的随时问我。",
            "这个录音录像是您今后维护合法权益的重要依据，请如实作答，哪里不清楚可以随时提问。",
        ),
        "agent_intro": (
            "我是{institution}的销售人员{salesperson_name}，我的执业证件已经给您在镜头前展示了。",
            "我叫{salesperson_name}，{institution}的销售人员，执业证件在镜头前给您看过了。",
        ),
        "product_nature": (
            "{product_name}是{institution}承保的人身保险产品，它不是银行的储蓄，也不是理财产品。",
            "这款{product_name}是人身保险，由{institution}承保，不是银行储蓄，也不是理财。",
        ),
        "price": (
            "您是{payment_method}，每年交{premium}元，连续交{payment_period}，保险期间是{insurance_period}。",
            "交费方式为{payment_method}，每年{premium}元，要连续交{payment_period}，保险期间为{insurance_period}。",
        ),
        "hesitation_period": (
            "您收到合同以后有{cooling_off_days}天犹豫期，这段时间解除合同，我们退还您交的保费。",
            "收到保险合同后，您有{cooling_off_days}天的犹豫期，在这期间解除合同，已交保费会退给您。",
        ),
        "cancellation_loss": (
            "犹豫期结束后再解除合同的话，公司只退现金价值，您会有一定的经济损失。",
            "过了犹豫期再解除合同，只退保单现金价值，会有一些经济损失。",
        ),
        "exclusion": (
            "条款里责任免除的部分请您重点看一下，发生免责情形，公司是不承担保险责任的。",
            "保险条款中的责任免除请您重点阅读，出现免责的情况，公司不承担保险责任。",
        ),
        "understanding": (
            "以上这些内容您都明白了吗？",
            "刚才这些内容，您是否都明白了？",
        ),
        "identity_check": (
            "请把您的身份证正面拿到镜头前面，确认一下是您本人投保。",
            "麻烦您把身份证正面举到镜头前，确认是您本人投保。",
        ),
        "sign_and_copy": (
            "请您在投保单上亲笔签名，把风险提示语句抄下来，写完以后朝着镜头展示一下。",
            "请在投保单上亲笔签个字，抄录风险提示语句，写好后对着镜头展示。",
        ),
        "thanks": (
            "感谢您的耐心配合，咱们的录制就到这里。",
            "谢谢您耐心配合，本次录制到此结束。",
        ),
    },
    fillers=("就是说", "这个", "然后呢"),
    greetings=("{customer_name}您好，耽误您几分钟，我们开始录制。",),
    grammar=Grammar(
        prefixes=("", "那个，", "嗯嗯，"),
        consent=("好，同意", "没问题，我同意"),
        understood=("明白了", "我都明白", "了解了，明白"),
        identity=("是的，本人投保", "对，是我自己"),
        hedges=("不怎么明白", "还不太懂", "没太听明白"),
        refusals=("这个我不同意", "不行，不同意"),
        tails=("", "，能再解释一下吗"),
    ),
    questions_back=(
        ("交费要交几年啊？", "一共交{payment_period}，每年交一次。"),
        ("要是我想退保怎么办？", "犹豫期内退保全额退还，犹豫期以后只退现金价值。"),
    ),
    forbidden=(
        "跟您说实话，这个产品就是稳赚不赔。",
        "这个产品绝对安全，下个月还要涨价。",
    ),
    wrong_premium_delta=-1000,
    wrong_days=7,
    roles={
        "consent": "agree_recording",
        "reminder": "rights_notice",
        "understood": "understanding",
        "id_card": "identity_check",
        "signature": "sign_and_copy",
        "premium": "price",
        "cooling_off": "hesitation_period",
        "skippable": "cancellation_loss",
        "after_product": "price",
    },
)

WORDINGS: dict[str, Wording] = {"dev": DEV, "test": TEST}
