"""What a customer types in answer to an after-sales question, in Chinese or English, read by
rules: which order ("my last order"), why they return it, whether they want the newsletter, and
the title (抬头) for their invoice.

Full-width digits and letters are folded first (:func:`kefu.text.fold_width`).  Each reader
returns ``None`` (or False) when the text does not answer the question: the bot asks again rather
than guess.  The vocabulary is kept in the module-level tuples below, next to the rules that read
it; a phrase right after a negation ("不是质量问题", "it isn't broken", "不要订阅") does not count
as said, or, for the newsletter, counts as the opposite choice.

Every reader looks at the first :data:`kefu.text.MAX_PARSE_CHARS` characters and works in time
linear in them (tests/security/test_parsers.py): a negation is looked for in the few words right
before a phrase, not in the whole text before it, and a name is found from where a run of name
characters starts, never from every character inside the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from kefu.text import clip, fold_width

ReturnReason = Literal["defect", "no_reason"]
NewsletterChoice = Literal["subscribe", "unsubscribe"]

_CJK = re.compile(r"[\u4e00-\u9fff]")
# where a clause ends: a negation before it does not reach past this
_CLAUSE_END = re.compile(r"[,，.。;；!！?？\n:：]")

# ---------------------------------------------------------------------------------------------
# negation right before a phrase

_ZH_NEGATION = re.compile(
    r"(?:不是|并不是|并非|也不是|没有|没|无|不|别|不要|不想|不用|不需要|无需|甭|千万别)"
    r"(?:再|因为|由于|是|给我|帮我|我|说)?\s*$"
)
_EN_NEGATORS = frozenset(
    "not no never don't dont doesn't didn't isn't wasn't aren't won't wouldn't nothing "
    "without neither nor".split()
)
_EN_WORD = re.compile(r"[a-z']+")
# how far before a phrase a negation is looked for: the longest Chinese negation with its
# filler ("千万别" + "给我") and the last three English words fit, white space aside
_NEGATION_WINDOW = 48


def _negated(text: str, start: int) -> bool:
    """Whether a negation right before ``start`` (same clause) cancels what is said there."""
    end = start
    while end > 0 and text[end - 1].isspace():  # a run of spaces before the phrase counts once
        end -= 1
    low = max(0, end - _NEGATION_WINDOW)
    clauses = _CLAUSE_END.split(text[low:start])
    clause = clauses[-1]
    if _ZH_NEGATION.search(clause):
        return True
    words = _EN_WORD.findall(clause.lower())
    if len(clauses) == 1 and low > 0 and _EN_WORD.fullmatch(text[low - 1 : low + 1].lower()):
        words = words[1:]  # the window cut this word: its end ("…not") says nothing
    return any(word in _EN_NEGATORS for word in words[-3:])


def _phrases(chinese: tuple[str, ...], english: tuple[str, ...]) -> str:
    """One alternation of regex phrases; the English ones must start and end on word edges."""
    return "|".join((*chinese, rf"\b(?:{'|'.join(english)})\b"))


def _prepare(text: str) -> str:
    return fold_width(clip(text)).lower()


# ---------------------------------------------------------------------------------------------
# "my last order"

_LAST_ORDER_ZH: tuple[str, ...] = (
    # 最近 / 最新 / 最后 + (的)(那/这)(一)(个/笔/单) + 订单 / 单 / 买的 …
    r"(?:最近|最新|最后)的?(?:那|这)?一?(?:个|笔|次|单)?(?:的)?"
    r"(?:订单|单子|一单|那单|下的单|买的|拍的|下单的|购买的|那个|那件|那笔)",
    r"(?:最近|最新)一(?:单|笔|次)",
    r"上一?(?:个|笔)(?:订单|单子|单)",
    r"上一单",
    r"上次(?:的|那个|那笔|那单)?(?:订单|单子|买的|拍的|下的单|购买)",
    r"刚(?:刚|才)?(?:买|下单|下|拍|订|购买)的",
    r"刚才(?:那个|那笔|那单|的)(?:订单|单)?",
    r"前一(?:个|笔)?(?:订单|单)",
)
_LAST_ORDER_EN: tuple[str, ...] = (
    r"(?:my|our)\s+(?:last|latest|newest|most\s+recent|previous|recent)\s+"
    r"(?:order|purchase|one|package|parcel|shipment|delivery)",
    r"the\s+(?:last|latest|newest|most\s+recent|previous)\s+"
    r"(?:order|purchase|package|parcel|shipment|delivery)",
    r"(?:last|latest|newest|most\s+recent|previous)\s+(?:order|purchase)",
    r"(?:latest|newest|most\s+recent)\s+(?:one|package|parcel|shipment|delivery)",
    r"(?:the\s+one|what|the\s+thing|the\s+stuff)\s+i\s+(?:just|recently)\s+"
    r"(?:bought|ordered|purchased|got)",
    r"i\s+just\s+(?:bought|ordered|purchased)",
    r"(?:my|the)\s+most\s+recent",
)
_LAST_ORDER = re.compile(_phrases(_LAST_ORDER_ZH, _LAST_ORDER_EN))


def mentions_last_order(text: str) -> bool:
    """Whether the customer points at their most recent order.

    "我最近那个订单", "上一单", "最新的订单", "刚买的那个", "my last order", "the latest one",
    "most recent order" → True; "上个月的订单号是…", "last week I ordered two", "不是最近那个"
    → False.  A bare "the last one" is left to :func:`kefu.references.parse_positions`: after a
    list it is the last item shown, not necessarily the newest order.
    """
    text = _prepare(text)
    return any(not _negated(text, found.start()) for found in _LAST_ORDER.finditer(text))


# ---------------------------------------------------------------------------------------------
# why an item goes back

_DEFECT_ZH: tuple[str, ...] = (
    "坏了",
    "坏的",
    "坏掉",
    "损坏",
    "破损",
    "破了",
    "碎了",
    "裂了",
    "裂开",
    "质量问题",
    "质量不好",
    "质量太差",
    "质量差",
    "瑕疵",
    "次品",
    "残次",
    "不亮",
    "不能用",
    "用不了",
    "没法用",
    "无法使用",
    "打不开",
    "开不了机",
    "开不机",
    "不开机",
    "充不进电",
    "充不上电",
    "充不了电",
    "没反应",
    "故障",
    "失灵",
    "死机",
    "异响",
    "漏水",
    "漏液",
    "划痕",
    "掉漆",
    "发错",
    "错发",
    "少发",
    "漏发",
    "缺件",
    "少件",
    "少了配件",
    "货不对板",
    "与描述不符",
    "和描述不符",
    "跟描述不符",
    "(?:和|与|跟)图片不(?:一样|符)",
    "色差",
    "假货",
    "不是正品",
)
_DEFECT_EN: tuple[str, ...] = (
    "broken",
    "broke",
    "defective",
    "defect",
    "faulty",
    "damaged",
    "cracked",
    "shattered",
    "scratched",
    "torn",
    "leaking",
    "leaks",
    "malfunction(?:s|ing)?",
    "(?:doesn't|does not|didn't|did not|won't|will not|can't|cannot) (?:work|turn on|charge|"
    "switch on|power on|open|start)",
    "not working",
    "stopped working",
    "dead on arrival",
    "doa",
    "wrong (?:item|product|colou?r|model|size sent|one sent)",
    "(?:sent|shipped|got|received) (?:me )?(?:the |a )?wrong",
    "missing (?:parts?|pieces?|items?|accessor(?:y|ies))",
    "not as described",
    "(?:poor|bad) quality",
    "quality (?:issue|problem)s?",
    "fake",
    "counterfeit",
)
_NO_REASON_ZH: tuple[str, ...] = (
    "不想要了",
    "不要了",
    "不想买了",
    "不需要了",
    "用不上",
    "用不到",
    "无理由",
    "没(?:什么|啥)(?:理由|原因)",
    "不合适",
    "不合身",
    "不喜欢",
    "不太喜欢",
    "尺码不对",
    "尺码不合适",
    "尺寸不对",
    "大小不合适",
    "太大了",
    "太小了",
    "偏大",
    "偏小",
    "买错了",
    "拍错了",
    "下错单",
    "买多了",
    "拍多了",
    "改变主意",
    "改主意",
    "后悔了",
    "不想留",
    "和想象的不一样",
    "跟想象的不一样",
)
_NO_REASON_EN: tuple[str, ...] = (
    "changed my mind",
    "change of mind",
    "(?:don't|do not|didn't|did not) (?:really )?(?:like|love|want|need)",
    "(?:doesn't|does not|didn't|did not) fit",
    "not my size",
    "too (?:big|small|large|tight|loose|long|short)",
    "no reason",
    "no longer (?:need|want)(?:ed)?",
    "(?:ordered|bought|picked) (?:it )?by mistake",
    "ordered the wrong",
    "bought the wrong",
    "not what i expected",
    "(?:7|seven)[- ]days?",
    "wrong size",
)
_REASONS = re.compile(
    rf"(?P<defect>{_phrases(_DEFECT_ZH, _DEFECT_EN)})"
    rf"|(?P<no_reason>{_phrases(_NO_REASON_ZH, _NO_REASON_EN)})"
)


def parse_return_reason(text: str) -> ReturnReason | None:
    """Why the item goes back: "defect" when it is faulty, damaged or not what was ordered;
    "no_reason" when the customer simply does not want it (七天无理由, a size they chose wrong,
    changed their mind); None when the text gives neither.

    A defect outweighs a change of mind ("不喜欢，而且有瑕疵" → "defect"): it decides who pays
    for the return.  Negated phrases do not count ("不是质量问题，就是不喜欢" → "no_reason").
    """
    text = _prepare(text)
    found = {
        match.lastgroup for match in _REASONS.finditer(text) if not _negated(text, match.start())
    }
    if "defect" in found:
        return "defect"
    return "no_reason" if "no_reason" in found else None


# ---------------------------------------------------------------------------------------------
# newsletter

_UNSUBSCRIBE_ZH: tuple[str, ...] = (
    "退订",
    "取消订阅",
    "取消推送",
    "取消通知",
    "关闭推送",
    "关掉推送",
    "关闭通知",
    "停止推送",
    "停止发送",
    "别(?:再)?(?:给我)?发",
    "不要(?:再)?(?:给我)?发",
    "不用(?:再)?(?:给我)?发",
    "不想(?:再)?收",
    "不要(?:再)?收",
    "(?:不要|不想要|不需要|拒收|屏蔽)[^,，.。!！?？]{0,6}?(?:推送|广告|短信|邮件|通知|营销|促销)",
    "(?:别|不要|不用)(?:再)?(?:给我)?推送",
    "别(?:再)?(?:打扰|骚扰)",
    "没兴趣",
    "不感兴趣",
    "^\\s*td\\s*$",
)
_UNSUBSCRIBE_EN: tuple[str, ...] = (
    "unsubscribe",
    "unsubscribed",
    "stop (?:sending|emailing|messaging|texting|spamming)",
    "opt(?:-| )?out",
    "no more (?:emails|mails|messages|newsletters?|spam|promotions|offers|ads)",
    "remove me",
    "take me off",
    "not interested",
    "(?:don't|do not) (?:send|email|text|message|spam)",
)
_SUBSCRIBE_ZH: tuple[str, ...] = (
    "订阅(?!号)",  # 订阅号 is a WeChat account
    "想收到",
    "要收到",
    "愿意收到",
    "接收(?:推送|通知|优惠|消息|邮件|短信)",
    "开启(?:推送|通知)",
    "打开(?:推送|通知)",
    "开通(?:推送|通知)",
    "(?:给我|请)发(?:优惠|活动|通知|消息|推送)",
    "通知我",
)
_SUBSCRIBE_EN: tuple[str, ...] = (
    "subscribe",
    "sign me up",
    "signing up",
    "opt(?:-| )?in",
    "count me in",
    "keep me (?:posted|updated|informed)",
    "send me (?:the )?(?:newsletters?|deals|offers|updates|emails|promotions)",
    "(?:i'd|i would) like (?:to receive|the newsletter|updates)",
)
_NEWSLETTER = re.compile(
    rf"(?P<unsubscribe>{_phrases(_UNSUBSCRIBE_ZH, _UNSUBSCRIBE_EN)})"
    rf"|(?P<subscribe>{_phrases(_SUBSCRIBE_ZH, _SUBSCRIBE_EN)})"
)
_OPPOSITE: dict[str, NewsletterChoice] = {"subscribe": "unsubscribe", "unsubscribe": "subscribe"}


def parse_newsletter_choice(text: str) -> NewsletterChoice | None:
    """Whether the customer wants the newsletter: "subscribe", "unsubscribe" or None.

    A refusal wins over anything else said ("取消订阅", "stop sending me emails"), and a negated
    choice counts as the opposite one ("不要订阅", "don't sign me up" → "unsubscribe"; "别取消订阅"
    → "subscribe").  A bare yes or no ("好的", "no thanks") is None: it answers the bot's
    question, which the dialogue knows and this function does not.
    """
    text = _prepare(text)
    choices = set()
    for match in _NEWSLETTER.finditer(text):
        choice = match.lastgroup
        choices.add(_OPPOSITE[choice] if _negated(text, match.start()) else choice)
    if "unsubscribe" in choices:
        return "unsubscribe"
    return "subscribe" if "subscribe" in choices else None


# ---------------------------------------------------------------------------------------------
# invoice title (发票抬头)


@dataclass(frozen=True)
class InvoiceTitle:
    title: str  # the company name, or "个人" / "Personal"
    tax_id: str | None  # 15-20 upper-case letters and digits; None for a personal title
    personal: bool


PERSONAL_ZH = "个人"
PERSONAL_EN = "Personal"

# what a Chinese company or organisation name ends with, longest first
_COMPANY_SUFFIXES_ZH: tuple[str, ...] = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "分公司",
    "公司",
    "集团",
    "工作室",
    "事务所",
    "研究院",
    "研究所",
    "中心",
    "学校",
    "学院",
    "大学",
    "医院",
    "银行",
    "商行",
    "门市部",
    "经营部",
    "商店",
    "超市",
    "酒店",
    "合作社",
    "协会",
    "委员会",
    "办事处",
    "厂",
)
_COMPANY_SUFFIXES_EN: tuple[str, ...] = (
    r"co\.?,?\s*ltd\.?",
    r"co\.?,?\s*limited",
    r"company\s+limited",
    r"pte\.?\s*ltd\.?",
    r"pty\.?\s*ltd\.?",
    r"limited",
    r"ltd\.?",
    r"inc\.?",
    r"incorporated",
    r"corp\.?",
    r"corporation",
    r"l\.?l\.?c\.?",
    r"llp",
    r"plc",
    r"gmbh",
    r"company",
    r"co\.",
    r"group",
    r"holdings",
)
_ZH_NAME_CHARS = r"\u4e00-\u9fffA-Za-z0-9（）()·&"
# A name is read from where a run of name characters starts (the look-behind): a match starting
# inside the run would be part of the match from its start, and trying every start inside a
# long run costs the square of its length.
_COMPANY_ZH = re.compile(
    rf"(?<![{_ZH_NAME_CHARS}])[{_ZH_NAME_CHARS}]+(?:{'|'.join(_COMPANY_SUFFIXES_ZH)})"
)
_EN_SUFFIX = "|".join(_COMPANY_SUFFIXES_EN)
_EN_NAME_CHARS = r"A-Za-z0-9&'.\- "
# between a name and its ending, and between two endings: spaces, at most one comma ("Acme,
# Inc."); written so that a run of spaces can be read one way only
_EN_GAP = r"\s*(?:,\s*)?"
_COMPANY_EN = re.compile(
    rf"(?<![{_EN_NAME_CHARS}])[{_EN_NAME_CHARS}]*[A-Za-z0-9)]{_EN_GAP}\b(?:{_EN_SUFFIX})"
    rf"(?:{_EN_GAP}\b(?:{_EN_SUFFIX}))*(?![A-Za-z])",
    re.IGNORECASE,
)
# one ending at the very end of a name (searched from a few characters before the end)
_EN_SUFFIX_AT_END = re.compile(rf"\b(?:{_EN_SUFFIX})\Z", re.IGNORECASE)
_EN_SUFFIX_REACH = 40  # longer than any ending ("company limited", "co., ltd.")
# everything up to the last of these words is lead-in: "我们公司的发票抬头是…", "开给…"
_LEAD_IN_ZH = re.compile(
    r"^.*(?:抬头|名称|全称|名字|开给|开成|开为|写成|写为|改成|改为|开具给|开到)"
    r"(?:请|就)?(?:是|为|写|填|开|用|叫|写成|开成|改成|改为)?"
)
_LEAD_VERB_ZH = re.compile(
    r"^(?:请|麻烦|帮我|帮忙|给我|我要|我想|我们要|要|需要|就)+(?:开|写|填|开具)?"
    r"(?:一张|张|个)?(?:发票)?(?:给|成|到|为)?"
)
_LEAD_WORDS_EN = frozenset(
    "hi hello hey ok okay yes sure thanks please pls kindly can could you i we need want would "
    "like i'd we'd make issue put write bill send made issued address it this that out to for "
    "under as in the name of invoice title header company is should be my our a an receipt "
    "fapiao use with".split()
)
_GENERIC_ZH = re.compile(r"^(?:我|你|他|她|贵|本|该|这|那|哪|某个|一个|个人)")
# an explicit title with no company ending: "抬头：阿里巴巴", "title: Acme"
_EXPLICIT = re.compile(
    r"(?:(?:发票)?抬头|公司名称|单位名称|公司名|名称)(?:\s*[是为写填:：]|\s)\s*"
    r"(?P<zh>[^,，.。;；!！?？\s]{2,50})"
    r"|\b(?:invoice\s+)?(?:title|header|company\s+name)\s*(?:is|should\s+be|:)\s*"
    r"(?P<en>[^,;!?\n]{2,60})",
    re.IGNORECASE,
)
_TAX_LEAD = (
    r"(?:税号|纳税人识别号|识别号|统一社会信用代码|社会信用代码|信用代码"
    r"|\btax\s*(?:id|number|no\.?|code|registration(?:\s+number)?)"
    r"|\b(?:tin|vat(?:\s*(?:id|no\.?|number))?))"
)
_TAX_WITH_LEAD = re.compile(
    rf"{_TAX_LEAD}\s*(?:(?:是|为|is|:|：|#)\s*)?"
    r"(?P<code>[0-9A-Za-z](?:[ \-]?[0-9A-Za-z]){14,19})(?![0-9A-Za-z])",
    re.IGNORECASE,
)
_TAX_BARE = re.compile(r"(?<![0-9A-Za-z])(?P<code>[0-9A-Z]{15,20})(?![0-9A-Za-z])")
_PERSONAL = re.compile(
    r"(?<![这那一每某几哪两])个人|私人|本人|不是公司|不用公司|非公司|"
    r"\b(?:personal|individual|private|for myself|myself|just me|my (?:own )?name|"
    r"not a company|no company)\b",
    re.IGNORECASE,
)
_TRIM = " \t\n,，.。:：;；!！?？\"'“”‘’「」『』《》【】[]"


def parse_invoice_title(text: str) -> InvoiceTitle | None:
    """The invoice title the customer gives, or None when nothing usable is said.

    "个人" / "个人抬头" / "personal" / "for myself" → a personal title ("个人" for Chinese text,
    "Personal" for English).  "抬头是深圳市某某科技有限公司，税号91440300MA5XXXXX1X" → the
    company name without the lead-in words, and the tax id (15-20 letters and digits, spaces and
    dashes dropped) when one is given.  A name given after "抬头是" / "title:" counts even without a
    company ending ("抬头：阿里巴巴").  A tax id alone is not a title: None.
    """
    text = fold_width(clip(text))
    tax_id, rest = _tax_id(text)
    company = _company(rest)
    if company and not _PERSONAL.fullmatch(company):
        return InvoiceTitle(company, tax_id, personal=False)
    personal = _PERSONAL.search(text)
    if personal and not _negated(text.lower(), personal.start()):
        return InvoiceTitle(PERSONAL_ZH if _CJK.search(text) else PERSONAL_EN, None, personal=True)
    return None


def _tax_id(text: str) -> tuple[str | None, str]:
    """The tax id in ``text`` and the text without it (and without its lead-in words)."""
    for pattern in (_TAX_WITH_LEAD, _TAX_BARE):
        for found in pattern.finditer(text):
            code = re.sub(r"[ \-]", "", found.group("code")).upper()
            if 15 <= len(code) <= 20 and sum(c.isdigit() for c in code) >= 6:
                return code, text[: found.start()] + "," + text[found.end() :]
    return None, text


def _company(text: str) -> str | None:
    """The first company name in ``text``, lead-in words removed."""
    candidates: list[tuple[int, str]] = []
    for found in _COMPANY_ZH.finditer(text):
        name = _strip_zh(found.group())
        if name:
            candidates.append((found.start(), name))
    for found in _COMPANY_EN.finditer(text):
        before = found.start()
        while before > 0 and text[before - 1].isspace():
            before -= 1
        after_colon = before > 0 and text[before - 1] in ":："
        name = _strip_en(found.group(), after_colon)
        if name:
            candidates.append((found.start(), name))
    if candidates:
        return min(candidates)[1]
    explicit = _EXPLICIT.search(text)
    if explicit:
        name = (explicit.group("zh") or explicit.group("en") or "").strip(_TRIM)
        return name if len(name) >= 2 and not _GENERIC_ZH.match(name) else None
    return None


def _strip_zh(name: str) -> str | None:
    name = _LEAD_IN_ZH.sub("", name)
    name = _LEAD_VERB_ZH.sub("", name).strip(_TRIM)
    if _stem_length_zh(name) < 2 or _GENERIC_ZH.match(name):
        return None  # "我们公司", "开公司"
    return name


_LONGEST_SUFFIX_ZH = max(map(len, _COMPANY_SUFFIXES_ZH))
_SUFFIXES_ZH_BY_FIRST: dict[str, tuple[str, ...]] = {
    first: tuple(s for s in _COMPANY_SUFFIXES_ZH if s[0] == first)
    for first in {s[0] for s in _COMPANY_SUFFIXES_ZH}
}


def _stem_length_zh(name: str) -> int:
    """The length of ``name`` without the company endings it ends with ("深圳某某科技有限公司"
    → 6; "中心公司" → 0): the start of the earliest tail made only of endings."""
    ends_chain = [False] * (len(name) + 1)  # ends_chain[i]: name[i:] is endings only
    ends_chain[len(name)] = True
    stem = len(name)
    for i in range(len(name) - 1, -1, -1):
        if stem - i > _LONGEST_SUFFIX_ZH:
            break  # no ending reaches back to a chain: nothing before it can join one
        if any(
            name.startswith(suffix, i) and ends_chain[i + len(suffix)]
            for suffix in _SUFFIXES_ZH_BY_FIRST.get(name[i], ())
        ):
            ends_chain[i] = True
            stem = i
    return stem


def _strip_en(name: str, after_colon: bool) -> str | None:
    name = name.strip()
    if not after_colon:
        words = name.split()
        first = 0
        while first < len(words) and words[first].lower().strip(".:") in _LEAD_WORDS_EN:
            first += 1
        name = " ".join(words[first:])
    name = name.strip(_TRIM.replace(".", ""))
    return name if _stem_length_en(name) >= 2 else None


def _stem_length_en(name: str) -> int:
    """The length of ``name`` without its company endings and the spaces and commas between
    them ("Acme Co., Ltd." → 4), read from the end one ending at a time."""
    end = len(name)
    while True:
        while end > 0 and name[end - 1].isspace():
            end -= 1
        found = _EN_SUFFIX_AT_END.search(name, max(0, end - _EN_SUFFIX_REACH), end)
        if not found:
            return len(name[:end].strip())
        end = found.start()
        while end > 0 and name[end - 1].isspace():
            end -= 1
        if end > 0 and name[end - 1] == ",":
            end -= 1


# ---- invoice kind ---------------------------------------------------------------------------

_PAPER_INVOICE = re.compile(
    r"专票|专用发票|纸质|纸票|paper|special\s+(?:vat\s+)?invoice|vat\s+special", re.IGNORECASE
)


def parse_invoice_kind(text: str) -> str | None:
    """ "paper" when the customer asks for a paper VAT special invoice (专票 / 纸质); None
    leaves the shop's default kind (an electronic invoice)."""
    folded = _prepare(text) if text else ""
    return "paper" if _PAPER_INVOICE.search(folded) else None
