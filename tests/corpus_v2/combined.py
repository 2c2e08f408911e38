"""Long combined sales for the v2 corpus (issue 11): a main product and a rider in one
15-20 minute session, as insurers record them.

On top of a split's ordinary session (tests/corpus_v2/plan.py) a combined session adds:
the rider, with its own template (tests/data/templates/rider_<split>.yaml, composed with the
split's insurer template: docs/templates.md "Combined sales") and its own paraphrased lines;
long explanations by the salesperson that no template node holds; worked numeric examples
and sums (一共是十二万元, 两个加起来每年…) that must not be read as the premium; questions back
from the customer with the salesperson's replies; and pauses while the customer reads the
terms, so that customer speech is sparse over a long track (a dozen short answers and
questions in 15-20 minutes). The pauses are sized so that each session lasts a length drawn
from ``MINUTES``: the generation cost is that of the spoken clips, not of the minutes.

Like the rest of v2 the wording is hand-written per split and shares nothing across splits.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from inspection.policy import Policy, Product, format_amount
from inspection.templates import load_template, render
from tests.corpus_plan import Beat, Plan, finding
from tests.corpus_v2.acoustics import voiced_seconds
from tests.corpus_v2.plan import TEMPLATES_DIR, Expected, Variation, _pick, question_back

RIDER_KEY = "rider1"
MINUTES = (15.0, 19.5)  # the session length is drawn from this range


@dataclass(frozen=True)
class CombinedWording:
    split: str
    rider_template_file: str  # in tests/data/templates, copied into the session directory
    riders: dict[str, Product]  # policy key -> its rider (its template_id: rider_template_file)
    spoken: dict[str, tuple[str, ...]]  # rider node id -> paraphrases ({placeholders})
    roles: dict[str, str]  # "coverage", "premium", "exclusions" -> rider node id
    explanations: dict[str, tuple[str, ...]]  # main node id (or "rider") -> paragraphs
    examples: tuple[str, ...]  # worked example after the main premium node ({premium}...)
    rider_sum: str  # the two premiums added up, after the rider's premium node
    read_prompts: tuple[str, ...]  # before a reading pause
    read_after: tuple[str, ...]  # main node ids followed by a reading pause
    questions: tuple[tuple[str, str], ...]  # (customer question, salesperson reply) on the rider
    wrong_rider_premium_delta: int

    def policy(self, policy: Policy, key: str) -> Policy:
        rider = dataclasses.replace(self.riders[key], template_id=self.rider_template_file)
        return dataclasses.replace(policy, riders=(rider,))

    def values(self, policy: Policy, product: str | None = None) -> dict[str, str]:
        out = policy.placeholders(product)
        p = policy.product(product)
        total = (p.premium or 0) * (p.payment_years or 1)
        out["total_over_years"] = format_amount(total)
        return out

    def lines(self, policies: dict[str, Policy]) -> list[str]:
        """Every text a combined session of this split can speak."""
        out: list[str] = []
        for key, single in policies.items():
            if key not in self.riders:
                continue
            policy = self.policy(single, key)
            main, rider = self.values(policy), self.values(policy, RIDER_KEY)
            for texts in self.spoken.values():
                out += [t.format(**rider) for t in texts]
            wrong = self.wrong(policy)
            misstated = self.values(wrong, RIDER_KEY)
            out.append(self.spoken[self.roles["premium"]][0].format(**misstated))
            out += [r.format(**misstated) for _, r in self.questions]
            out += [e.format(**main) for e in self.examples]
            out.append(self.rider_sum.format(**rider))
            out += [r.format(**rider) for _, r in self.questions]
        out += [p for texts in self.explanations.values() for p in texts]
        out += list(self.read_prompts) + [q for q, _ in self.questions]
        return list(dict.fromkeys(out))

    def wrong(self, policy: Policy) -> Policy:
        """``policy`` with the rider's premium misstated."""
        rider = policy.riders[0]
        bad = dataclasses.replace(
            rider, premium=(rider.premium or 0) + self.wrong_rider_premium_delta
        )
        return dataclasses.replace(policy, riders=(bad,))


def _rider(name: str, premium: int, years: int, cover: int | None) -> Product:
    return Product(
        product_name=name,
        product_type="traditional",
        premium=premium,
        payment_method="年交",
        payment_years=years,
        insurance_years=cover,
        key=RIDER_KEY,
        role="rider",
    )


DEV = CombinedWording(
    split="dev",
    rider_template_file="rider_dev.yaml",
    riders={
        "a": _rider("安康附加意外伤害保险", 600, 1, 1),
        "b": _rider("恒信附加意外医疗保险", 380, 5, 5),
    },
    spoken={
        "rider_intro": (
            "另外这个{product_name}呢，是{main_product_name}的附加险，不能单独买，也是{institution}承保的。",
            "{product_name}是附加在{main_product_name}上面的附加险，不能单独投保，承保公司同样是{institution}。",
        ),
        "rider_coverage": (
            "{product_name}保的是什么，要以附加险的条款为准，保障范围您对照条款看一下。",
            "附加险的保险责任，具体以{product_name}的条款为准，保障范围您对照条款看看。",
        ),
        "rider_premium": (
            "附加险是{payment_method}，每期交{premium}元，一共交{payment_period}，保险期间是{insurance_period}。",
            "这个附加险{payment_method}，每期保费{premium}元，要交{payment_period}，保障期间为{insurance_period}。",
        ),
        "rider_exclusions": (
            "附加险的条款里面也有责任免除，条款上列的那些情况，保险公司是不承担保险责任的。",
            "附加险同样有责任免除的部分，条款列明的情形，保险公司不承担保险责任。",
        ),
    },
    roles={
        "coverage": "rider_coverage",
        "premium": "rider_premium",
        "exclusions": "rider_exclusions",
    },
    explanations={
        "is_insurance": (
            "我再给您详细讲一下保险责任。被保险人在保险期间内身故的，保险公司按照合同约定给付身故保险金，合同就此终止。具体的给付条件，都以合同条款为准，您可以对照条款来看。",
            "关于受益人，您可以指定一位或者几位身故受益人，也可以约定每个人的受益份额。如果没有指定受益人，保险金会作为被保险人的遗产处理，所以建议您投保的时候把受益人写清楚。",
        ),
        "premium": (
            "交费这块我跟您说明一下，每年的保费会从您指定的银行卡里扣款，扣款之前请您确保卡里的余额充足。如果到期没有交费，合同有一段宽限期，宽限期过了还没有交，合同效力就会中止。",
        ),
        "cooling_off": (
            "还有一点，投保的时候请您如实告知被保险人的健康状况和职业情况。如果没有如实告知，发生保险事故的时候，保险公司有可能不承担保险责任，还可能解除合同，这一点对您非常重要。",
        ),
        "surrender": (
            "现金价值这个概念我解释一下，它是保单在某个时点的价值，前几年因为要扣除各种费用，现金价值会比您已经交的保费低，所以提前退保是会有损失的，这个请您一定要了解。",
            "合同生效以后，如果您的联系地址或者电话有变化，请及时通知保险公司办理变更。保单的各项服务，像变更受益人、补发保单，都可以通过客服电话或者柜面办理。",
        ),
        "rider": (
            "附加意外险保障的是意外事故导致的身故或者伤残，疾病导致的不在保障范围里。伤残的给付比例按照伤残等级来定，具体的等级表在条款后面的附表里。",
            "附加险的保险期间到了以后，需要重新投保才能继续保障，续保的时候保险公司会重新审核，费率也可能会调整，这个请您提前了解清楚。",
        ),
    },
    examples=(
        "给您举个例子，您每年交{premium}元，交满{payment_years}年，一共是{total_over_years}元，这个是总共要交的保费。",
    ),
    rider_sum="主险和附加险加起来，每年一共交{total_premium}元。",
    read_prompts=(
        "这部分条款比较长，您先花几分钟仔细看一下，有不明白的地方随时问我。",
        "请您把条款里的这部分也仔细看一下，我在这儿等您。",
    ),
    read_after=("is_insurance", "surrender"),
    questions=(
        ("那附加险每年要交多少钱？", "附加险每年交{premium}元，交{payment_period}。"),
        ("生病住院的话附加险能赔吗？", "这个附加险只保意外，生病住院不在它的保障范围里。"),
    ),
    wrong_rider_premium_delta=300,
)

TEST = CombinedWording(
    split="test",
    rider_template_file="rider_test.yaml",
    riders={
        "c": _rider("泰和附加住院医疗保险", 420, 1, 1),
        "d": _rider("瑞丰附加住院津贴保险", 980, 10, 10),
    },
    spoken={
        "addon_nature": (
            "再跟您说一下{product_name}，它附加在{main_product_name}上，必须跟主合同一起投保，承保的也是{institution}。",
            "这份{product_name}是{main_product_name}的附加合同，要和主合同一起投保，由{institution}承保。",
        ),
        "addon_scope": (
            "{product_name}保障哪些内容，以附加合同的条款为准，主要管住院期间的费用或者津贴。",
            "附加合同的保障内容要看{product_name}的条款，主要是住院期间的费用或津贴。",
        ),
        "addon_price": (
            "附加合同也是{payment_method}，每年{premium}元，连续交{payment_period}，保险期间是{insurance_period}。",
            "这份附加合同{payment_method}，每年交{premium}元，需要连续交{payment_period}，保险期间为{insurance_period}。",
        ),
        "addon_exclusion": (
            "附加合同的责任免除您也重点看一下，出现免责的情况，公司是不承担保险责任的。",
            "附加合同里免责的条款请同样重点阅读，免责情形下公司不承担保险责任。",
        ),
    },
    roles={"coverage": "addon_scope", "premium": "addon_price", "exclusions": "addon_exclusion"},
    explanations={
        "product_nature": (
            "跟您解释一下身故保险金，被保险人在保险期间内身故，公司按合同约定的金额给付，给付以后合同终止，具体条件请您以条款为准。",
            "受益人方面，您可以指定一个或者多个受益人，再约定各自的份额；要是没有指定，保险金就按被保险人的遗产来处理，建议您写明白。",
        ),
        "price": (
            "保费是从您授权的银行账户里自动划扣的，扣款前麻烦您留意账户余额；到期没交上的话，有一段宽限期，过了宽限期合同效力会中止。",
        ),
        "hesitation_period": (
            "投保时被保险人的健康情况和职业情况，都请您如实告知；没有如实告知的话，出险时公司可能不承担保险责任，还可能解除合同。",
        ),
        "cancellation_loss": (
            "现金价值就是保单在某个时间点的价值，头几年要扣除一些费用，所以现金价值会低于您交的保费，提前退保就会有经济损失。",
            "合同生效后，您的地址、电话要是变了，请及时联系公司做变更；改受益人、补发保单这些服务，打客服电话或者到柜面都能办。",
        ),
        "rider": (
            "住院医疗这份附加合同，是按照住院期间实际发生的合理费用来报销的，门诊的费用一般不在范围里，具体以附加合同条款为准。",
            "附加合同到期以后要重新投保才能继续有保障，重新投保的时候公司会再审核一次，费率也可能会有变化，请您提前了解。",
        ),
    },
    examples=(
        "打个比方，每年交{premium}元，连续交满{payment_years}年，总共是{total_over_years}元，这是全部要交的保费。",
    ),
    rider_sum="主合同加上附加合同，每年合计交{total_premium}元。",
    read_prompts=(
        "条款的内容比较多，您先用几分钟时间认真看一看，哪里不明白您就问我。",
        "这部分条款也麻烦您仔细看一下，不着急，我等您看完。",
    ),
    read_after=("product_nature", "cancellation_loss"),
    questions=(
        ("附加的这个一年要交多少？", "附加合同每年交{premium}元，连续交{payment_period}。"),
        ("门诊看病能报吗？", "门诊一般不在附加合同的范围里，主要是住院。"),
    ),
    wrong_rider_premium_delta=-200,
)

COMBINED: dict[str, CombinedWording] = {"dev": DEV, "test": TEST}


def _key_of(plan: Plan, var: Variation) -> str:
    return next(k for k, p in var.wording.policies.items() if p == plan.policy)


def _beat_len(b: Beat, var: Variation) -> float:
    if b.text is None:
        return b.pause_s + b.wait_s
    return b.pause_s + voiced_seconds(b.text, var.voices[b.speaker or ""])


def make_combined(plan: Plan, var: Variation, *, wrong_rider_premium: bool) -> Expected:
    """Turn the split's ordinary session ``plan`` into a long combined sale (in place)."""
    cw = COMBINED[var.split]
    rng = plan.rng
    key = _key_of(plan, var)
    policy = cw.policy(plan.policy, key)
    rider_tpl = load_template(TEMPLATES_DIR / cw.rider_template_file)
    plan.policy = policy
    plan.nodes = render(plan.template, policy, {RIDER_KEY: rider_tpl})
    main = cw.values(policy)
    said = cw.wrong(policy) if wrong_rider_premium else policy
    rider = cw.values(said, RIDER_KEY)
    pauses: list[Beat] = []

    def extra(text: str, node: str) -> Beat:
        return Beat("extra", "salesperson", text, node, float(rng.uniform(0.5, 1.1)))

    def ask(question: tuple[str, str], node: str) -> list[Beat]:
        q, reply = question
        return question_back(var, node, q, reply.format(**rider), float(rng.uniform(0.8, 1.6)), 0.7)

    def reading(node: str, prompt: str) -> list[Beat]:
        wait = Beat("wait", None, None, node, pause_s=0.0, wait_s=0.0)
        pauses.append(wait)
        return [extra(prompt, node), wait]

    # The rider's nodes where composition put them, each with its talk around it.
    rider_nodes = [n for n in plan.nodes if n.product == RIDER_KEY]
    before = plan.nodes[plan.nodes.index(rider_nodes[0]) - 1].id
    beats: list[Beat] = []
    questions = list(cw.questions)
    explanations = list(cw.explanations["rider"])
    for n in rider_nodes:
        base = n.id.split(".", 1)[1]
        variant = 0 if wrong_rider_premium and base == cw.roles["premium"] else int(rng.integers(2))
        var.variants[n.id] = variant
        beats.append(
            Beat("node", "salesperson", cw.spoken[base][variant].format(**rider), n.id, 0.9)
        )
        if base == cw.roles["coverage"]:
            beats += [extra(p, n.id) for p in explanations]
            beats += ask(questions.pop(1), n.id)
        if base == cw.roles["premium"]:
            if not wrong_rider_premium:  # (whoever misstates it does not add it up right)
                beats.append(extra(cw.rider_sum.format(**rider), n.id))
            beats += ask(questions.pop(0), n.id)
        if base == cw.roles["exclusions"]:
            beats += reading(n.id, cw.read_prompts[1])
    at = plan.last_index(before) + 1
    plan.beats[at:at] = beats
    # Explanations, the worked example and reading pauses around the main product's nodes.
    premium_node = var.wording.node("premium")
    for node_id, paragraphs in cw.explanations.items():
        if node_id == "rider":
            continue
        add = [extra(p, node_id) for p in paragraphs]
        if node_id == premium_node:
            add.insert(0, extra(_pick(rng, cw.examples).format(**main), node_id))
        if node_id in cw.read_after:
            add += reading(node_id, cw.read_prompts[0])
        i = plan.last_index(node_id) + 1
        plan.beats[i:i] = add
    _size_pauses(plan, var, pauses, float(rng.uniform(*MINUTES)) * 60.0)
    if wrong_rider_premium:
        return [
            finding("speech.number_mismatch", f"{RIDER_KEY}.{cw.roles['premium']}", "salesperson")
        ]
    return []


def _size_pauses(plan: Plan, var: Variation, pauses: list[Beat], target_s: float) -> None:
    """Share the time the session lacks to reach ``target_s`` among the reading pauses
    (unevenly, as people read at their own pace)."""
    spoken = sum(_beat_len(b, var) for b in plan.beats) + 3.5  # lead-in and tail of layout()
    left = max(0.0, target_s - spoken)
    weights = plan.rng.uniform(0.6, 1.4, len(pauses))
    for beat, w in zip(pauses, weights / weights.sum(), strict=True):
        beat.wait_s = round(float(left * w), 2)


def combined_lines(split: str) -> list[str]:
    from tests.corpus_v2.wording import WORDINGS

    return COMBINED[split].lines(WORDINGS[split].policies)


def customer_speech_share(plan: Plan, var: Variation) -> float:
    """Seconds of customer speech per second of session (sparse: a few per cent)."""
    total = sum(_beat_len(b, var) for b in plan.beats)
    customer = sum(
        voiced_seconds(b.text, var.voices["customer"])
        for b in plan.beats
        if b.speaker == "customer" and b.text is not None
    )
    return customer / total if total else 0.0
