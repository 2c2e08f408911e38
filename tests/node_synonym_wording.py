"""The dev template's nodes said with the insurance synonyms a salesperson uses (冷静期, 退保,
解约, 签字, 材料, 摄像头, 存款, 业务员 ...) and plain reorderings, for test_node_synonyms.

Written for issue 7 (helper node12) independently of the corpus wording
(tests/corpus_v2/wording.py) and of tests/node_wording.py's PARAPHRASES: those keep the
template's content words, these replace them. ``{placeholders}`` are the policy's values.
"""

from __future__ import annotations

from inspection.policy import Policy

#: Three ways per node, each with some of the template's content words in other words.
SYNONYM_PARAPHRASES: dict[str, tuple[str, ...]] = {
    "consent": (
        "您好，下面咱们购买保险的整个流程都会同步录音录像，您这边没意见吧，同意吗？",
        "在您买这份保险的过程中，我们全程都要录像录音，您同意吗？",
        "接下来办理保险的全过程会进行录音和录像，请问您是否同意？",
    ),
    "reminder": (
        "这段录音录像对您以后保护自己的权益特别重要，签字的材料请您仔细看清楚，每个问题也都请您照实回答。",
        "此次录音录像关系到您今后维护自身的合法权益，非常重要，您签署的每份资料都请认真看，每一个问题都要如实作答。",
        "录音录像对于您将来维护权益非常关键，请仔细阅读您签字的文件，对每个问题都如实回答。",
    ),
    "introduction": (
        "我叫{salesperson_name}，{institution}的业务员，这是我的展业证，您可以看看。",
        "自我介绍一下，我是{institution}的保险代理人{salesperson_name}，这边是我的执业证件，请您查看。",
        "我是{institution}负责保险销售的{salesperson_name}，这是我的从业证书，您看一下。",
    ),
    "is_insurance": (
        "您购买的{product_name}是一款保险，不是存款，也不是理财，承保机构是{institution}。",
        "需要说明的是，{product_name}属于保险类产品，不是银行储蓄，也不是理财产品，由{institution}负责承保。",
        "{product_name}是{institution}承保的保险产品，它不属于储蓄，也不属于理财。",
    ),
    "premium": (
        "您是{payment_method}，一年交一次，每次{premium}块钱，交满{payment_period}，保障{insurance_period}。",
        "缴费方式是{payment_method}，每期缴{premium}元，缴费{payment_period}，保障期限{insurance_period}。",
        "每年交{premium}元保费，交{payment_period}就交完了，保到{insurance_period}，是{payment_method}。",
    ),
    "cooling_off": (
        "合同签收后有{cooling_off_days}天冷静期，冷静期里面您要退保，交的钱全部退给您。",
        "签收保单以后您有{cooling_off_days}天的犹豫期，在这期间退保的话保费全额返还。",
        "您收到合同之后的{cooling_off_days}天是犹豫期，这个期间解除合同，保险费是全退的。",
    ),
    "surrender": (
        "犹豫期过后再退保，只能退回保单的现金价值，您会有一些亏损。",
        "过了冷静期您再解约，只退现金价值，这样可能会吃亏，有损失。",
        "要是犹豫期以后解除合同，退给您的是保单现金价值，和您交的保费比起来会有损失。",
    ),
    "confirm_understood": (
        "我前面讲的这些您都明白了吗？",
        "刚才说的内容都听明白了没有？",
        "以上这些您都了解清楚了吧？",
    ),
    "id_card": (
        "请您把身份证的正面对着摄像头，确认是您本人购买的，对吧？",
        "麻烦拿出身份证正面对准摄像头，核实一下是您自己投保，是吗？",
        "身份证请正面对着镜头给我看一下，是您本人买的对吧？",
    ),
    "signature": (
        "请在投保单上签字，再把风险提示的那句话抄一遍，写好之后对着摄像头给我看看。",
        "麻烦您在投保书上签名，另外抄写一遍风险提示语，完成后对准镜头让我看一下。",
        "您在投保单签名的地方签个字，然后抄一下风险提示，写完对着镜头展示一下。",
    ),
    "closing": (
        "好了，今天就录到这里，谢谢您。",
        "今天的录音录像就到这儿结束了，感谢您的配合。",
        "好的，就先到这儿，感谢您的配合。",
    ),
}

#: Talk in a sale that is no node of the script (claims, the company, small talk, extras).
OFF_TOPIC = (
    "您放心，理赔的时候您只要把医院的病历和发票准备好，打我们的客服电话报案就可以了，一般几个工作日就能到账。",
    "我们公司成立快三十年了，在全国有两百多家分支机构，服务网点也很多，您以后办业务很方便。",
    "今天天气不错啊，您这边过来路上还顺利吧，停车方便吗？",
    "身故受益人您可以写您的配偶或者子女，要是不指定的话，就按照法定继承来处理。",
)


def said(policy: Policy, node_id: str, k: int) -> str:
    """The ``k``-th synonym paraphrase of ``node_id`` with ``policy``'s values."""
    opts = SYNONYM_PARAPHRASES[node_id]
    years = policy.insurance_years
    return opts[k % len(opts)].format(
        institution=policy.institution,
        salesperson_name=policy.salesperson_name,
        product_name=policy.product_name,
        payment_method=policy.payment_method,
        premium=policy.premium,
        payment_period=f"{policy.payment_years}年",
        insurance_period="终身" if years is None else f"{years}年",
        cooling_off_days=policy.cooling_off_days,
    )
