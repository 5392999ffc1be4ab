"""A delivery address as a customer types it, in Chinese or English, read by rules.

Chinese addresses run from large to small, with or without spaces:
"广东省深圳市南山区科技园路18号3栋502 张三 13812345678", "上海浦东新区世纪大道100号",
"改成北京市朝阳区建国路88号SOHO现代城A座1203，收件人李四，电话139 1234 5678".
Province names may come without their ending (广东, 北京, 内蒙古) and are stored under their
official name (广东省, 北京市, 内蒙古自治区); the four municipalities and the two special
administrative regions are their own city.  The city and district are read by their endings
(市 / 自治州 / 地区 / 盟, then 区 / 县 / 旗 / 市); right after a province a city may also come
without 市 when a district follows ("广东深圳南山区").

English addresses are comma-separated and run from small to large: "Room 502, 18 Keji Road,
Nanshan District, Shenzhen, Guangdong".  Parts named "… District" / "… City" / "… Province" or a
province's English name are read as such; the remaining place names after the street go to the
city (and the province, when none was named).  English names are kept as typed.

The phone is a mainland mobile number (1[3-9] and 9 more digits; spaces, dashes and +86 allowed),
stored as 11 digits.  The recipient is read after a label (收件人, 联系人, recipient, name: …)
or, as a 2-4 character Chinese name or a capitalised English name, from beside the address.
A recipient or phone the text leaves out comes from ``fallback``, the order's current address.
Nothing here raises: text that is not an address comes back with every required field missing.
The first :data:`kefu.text.MAX_PARSE_CHARS` characters are read, in time linear in them
(tests/security/test_parsers.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kefu.text import clip, fold_width

FIELDS: tuple[str, ...] = ("recipient", "phone", "province", "city", "district", "detail")
REQUIRED: tuple[str, ...] = ("recipient", "phone", "province", "city", "detail")
MAX_PARTS = 24  # comma-separated parts read; a real address has fewer than ten


@dataclass(frozen=True)
class ParsedAddress:
    fields: dict[str, str]  # keys from FIELDS, only those found
    missing: tuple[str, ...]  # keys from REQUIRED still without a value, in that order

    @property
    def complete(self) -> bool:
        return not self.missing


# the 34 provincial-level divisions: official name, short name, English names
PROVINCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("北京市", "北京", ("Beijing",)),
    ("天津市", "天津", ("Tianjin",)),
    ("上海市", "上海", ("Shanghai",)),
    ("重庆市", "重庆", ("Chongqing",)),
    ("河北省", "河北", ("Hebei",)),
    ("山西省", "山西", ("Shanxi",)),
    ("辽宁省", "辽宁", ("Liaoning",)),
    ("吉林省", "吉林", ("Jilin",)),
    ("黑龙江省", "黑龙江", ("Heilongjiang",)),
    ("江苏省", "江苏", ("Jiangsu",)),
    ("浙江省", "浙江", ("Zhejiang",)),
    ("安徽省", "安徽", ("Anhui",)),
    ("福建省", "福建", ("Fujian",)),
    ("江西省", "江西", ("Jiangxi",)),
    ("山东省", "山东", ("Shandong",)),
    ("河南省", "河南", ("Henan",)),
    ("湖北省", "湖北", ("Hubei",)),
    ("湖南省", "湖南", ("Hunan",)),
    ("广东省", "广东", ("Guangdong",)),
    ("海南省", "海南", ("Hainan",)),
    ("四川省", "四川", ("Sichuan",)),
    ("贵州省", "贵州", ("Guizhou",)),
    ("云南省", "云南", ("Yunnan",)),
    ("陕西省", "陕西", ("Shaanxi",)),
    ("甘肃省", "甘肃", ("Gansu",)),
    ("青海省", "青海", ("Qinghai",)),
    ("台湾省", "台湾", ("Taiwan",)),
    ("内蒙古自治区", "内蒙古", ("Inner Mongolia", "Nei Mongol", "Neimenggu")),
    ("广西壮族自治区", "广西", ("Guangxi",)),
    ("西藏自治区", "西藏", ("Tibet", "Xizang")),
    ("宁夏回族自治区", "宁夏", ("Ningxia",)),
    ("新疆维吾尔自治区", "新疆", ("Xinjiang",)),
    ("香港特别行政区", "香港", ("Hong Kong", "Hongkong")),
    ("澳门特别行政区", "澳门", ("Macau", "Macao")),
)
# provincial-level divisions with no cities under them: the province is the city
CITY_LEVEL = frozenset(("北京市", "天津市", "上海市", "重庆市", "香港特别行政区", "澳门特别行政区"))

_ZH_ENDINGS = ("省", "市", "自治区", "特别行政区", "特区")
_PROVINCE_BY_NAME: dict[str, str] = {}
for _full, _short, _ in PROVINCES:
    _PROVINCE_BY_NAME[_full] = _full
    _PROVINCE_BY_NAME[_short] = _full
    for _ending in _ZH_ENDINGS:
        if _full.endswith(_ending) or (_ending == "特区" and _full.endswith("特别行政区")):
            _PROVINCE_BY_NAME[_short + _ending] = _full
_PROVINCE_EN: dict[str, str] = {
    name.lower(): full for full, _, names in PROVINCES for name in names
}
_SHORT_OF = {full: short for full, short, _ in PROVINCES}

_CJK = "\u4e00-\u9fff"
_PROVINCE_AT = re.compile(
    "(?:"
    + "|".join(sorted(map(re.escape, _PROVINCE_BY_NAME), key=len, reverse=True))
    + ")"
    # "北京路", "上海街", "南京东路", "江西大道" are streets, not provinces
    + r"(?!路|街|道|巷|弄|大道|大街|大厦|[东西南北中]路)"
)
_CITY_AT = re.compile(rf"\s*(?P<name>[{_CJK}]{{2,8}}?(?:自治州|地区|市|盟))")
_BARE_CITY_AT = re.compile(rf"\s*(?P<name>[{_CJK}]{{2,4}}?)\s*(?=[{_CJK}]{{1,6}}?(?:区|县|旗))")
_DISTRICT_AT = re.compile(rf"\s*(?P<name>[{_CJK}]{{1,8}}?(?:区|县|旗|市))")
# endings that make a place, not a city or district ("华润超市", "阳光小区")
_NOT_A_DIVISION = re.compile(r"(?:超市|门市|菜市|夜市|集市|小区|社区|校区|景区|厂区|营区)$")
# characters that mark a street address and are rare in people's names
_ZH_ADDRESS_CHARS = frozenset(
    "省市区县旗镇乡村组路街道巷弄号栋幢楼层室院苑厦场馆站口门旁侧近园城里座"
)
# a name glued to the house number, and words of place that may follow one ("1号对面")
_GLUED_NAME = re.compile(rf"(?<=\d)[{_CJK}]{{2,3}}$")
_ZH_POSITION_CHARS = frozenset("前后内外面边上下左右附对")
_EN_ADDRESS_WORDS = frozenset(
    "road rd street st avenue ave lane ln boulevard blvd drive dr way lu jie dao hutong alley "
    "room rm flat apt apartment unit suite floor fl building bldg block blk tower plaza garden "
    "gardens estate village compound community residence mansion court no park center centre "
    "campus xiaoqu hao lou dong gate".split()
)

_PHONE_LEAD = (
    r"(?:(?:联系|收件人|收货人)?(?:电话|手机|手机号)(?:号码|号)?|联系方式"
    r"|\b(?:tel(?:ephone)?|phone|mobile|cell|contact)(?:\s*(?:number|no\.?|#))?)"
    r"\s*(?:(?:是|为|改成|改为|is|:|：)\s*)?"
)
_PHONE_COMPACT = re.compile(
    rf"(?:{_PHONE_LEAD})?(?<![\d+])(?:\+?86[\s\-]?)?(?P<number>1[3-9]\d{{9}})(?!\d)",
    re.IGNORECASE,
)
_PHONE_SPACED = re.compile(
    rf"(?:{_PHONE_LEAD})?(?<![\d+])(?:\+?86[\s\-]?)?(?P<number>1[3-9]\d(?:[\s\-]?\d){{8}})(?!\d)",
    re.IGNORECASE,
)
# a phone label followed by something that is not a mobile number: dropped, not an address
_PHONE_LEFTOVER = re.compile(rf"{_PHONE_LEAD}[\d\s\-+()]{{5,}}", re.IGNORECASE)

_RECIPIENT = re.compile(
    r"(?:(?:收件人|收货人|联系人|收件|收货|姓名|名字)(?!地址|信息|电话|手机)"
    r"(?:姓名|名字|是|为|叫|改成|改为|换成|[:：\s])*"
    r"|\b(?:recipient|receiver|consignee|addressee|attn\.?|attention|contact\s+person|name)"
    r"(?:'s)?(?:\s+name)?(?:\s*(?:is|:)\s*|\s+))"
    rf"(?P<name>[{_CJK}·]{{1,10}}|[A-Za-z][A-Za-z.'\-]*(?:[ ]+[A-Za-z][A-Za-z.'\-]*){{0,3}})",
    re.IGNORECASE,
)
_EN_NAME_STOP = frozenset("phone tel mobile cell address at and number no in on to".split())
_ZH_NAME = re.compile(rf"[{_CJK}]{{2,4}}|[{_CJK}]{{1,6}}·[{_CJK}]{{1,8}}")
_EN_NAME = re.compile(
    r"(?:(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+)?[A-Z][A-Za-z'\-]+(?:\s+[A-Z][A-Za-z'\-]+){0,3}"
)
_EN_WORDS = re.compile(r"[A-Za-z][A-Za-z'\-]*(?:\s+[A-Za-z][A-Za-z'\-]*){0,3}")
_FILLER = frozenset(
    "谢谢 谢谢啦 谢啦 多谢 感谢 你好 您好 麻烦 麻烦了 麻烦你 辛苦了 好的 好 可以 "
    "是的 对的 没问题 就这样 收件人 电话 手机 地址 改成 改为 不变 其他不变 哈哈 嗯嗯 "
    "thanks thank you thx please ok okay "
    "hi hello".split()
)
_SPLIT = re.compile(r"[,，;；。!！?？\n、]+|(?<![A-Za-z])\.(?!\d)")
_LEADS = (
    re.compile(r"(?:您好|你好|麻烦你?|请|帮我|帮忙|我想|我要|需要|想|要|把|就|那就|好的|嗯|哦)"),
    re.compile(r"(?:我的|新的?|收货|收件|邮寄|配送|寄送|送货)+(?=地址)"),
    re.compile(r"地址(?:信息)?"),
    re.compile(r"(?:修改|更改|变更|改|换)(?:一下)?"),
    re.compile(r"(?:寄到|送到|发到|寄往|寄给|写成|成(?!都)|为|到|是)"),
    re.compile(r"(?:hi|hello|hey|ok|okay|please|pls|kindly)\b", re.IGNORECASE),
    re.compile(r"(?:can|could)\s+you\b", re.IGNORECASE),
    re.compile(
        r"(?:change|update|switch|set|correct|modify)\s+(?:it\s+|my\s+|the\s+)?"
        r"(?:shipping\s+|delivery\s+)?(?:address\s+)?(?:to\b)?",
        re.IGNORECASE,
    ),
    re.compile(
        r"(?:(?:my|the|new|shipping|delivery)\s+)*address\b\s*(?:is\b|should\s+be\b)?",
        re.IGNORECASE,
    ),
    re.compile(r"(?:ship|send|deliver)\s+(?:it\s+)?to\b", re.IGNORECASE),
    re.compile(r"[\s:：\-]+"),
)
_TRAILING_FILLER = re.compile(
    r"(?:谢谢啦|谢谢|谢啦|多谢|麻烦了|辛苦了|thanks|thank you|thx)[\s~～!！.。]*$", re.IGNORECASE
)
_COUNTRY = re.compile(
    r"(?:the\s+)?(?:people'?s\s+republic\s+of\s+)?china|p\.?r\.?\s*c\.?|p\.?r\.?\s*china|cn"
    r"|中国|中华人民共和国|中国大陆",
    re.IGNORECASE,
)
_POSTCODE = re.compile(
    r"(?:邮编|邮政编码|post\s*code|postal\s*code|zip(?:\s*code)?)?\s*(?:[:：]\s*)?\d{6}"
)
# English parts named by their last word ("Nanshan District"): a name, spaces, the word
_EN_LABELLED = (
    ("district", re.compile(r"(?:district|qu|county|xian|new\s+area)\Z", re.IGNORECASE)),
    ("city", re.compile(r"(?:city|shi)\Z", re.IGNORECASE)),
    (
        "province",
        re.compile(r"(?:province|sheng|autonomous\s+region|sar|municipality)\Z", re.IGNORECASE),
    ),
)


def normalize_province(name: str) -> str | None:
    """The official name of a province written in Chinese with or without its ending:
    "广东" → "广东省", "北京" → "北京市", "内蒙古" → "内蒙古自治区"; None when it is not one."""
    if not isinstance(name, str):
        return None
    return _PROVINCE_BY_NAME.get(re.sub(r"\s+", "", fold_width(name)))


def mobile_number(text: str) -> str | None:
    """The first mainland mobile number in ``text`` as 11 digits ("+86 139-1234-5678" →
    "13912345678"), or None."""
    if not isinstance(text, str):
        return None
    found = _find_phone(fold_width(clip(text)))
    return found[0] if found else None


def parse_address(text: str, fallback: Mapping[str, str] | None = None) -> ParsedAddress:
    """The address fields in ``text``; recipient and phone fall back to ``fallback``.

    See the module docstring for what is read.  Never raises: junk, an empty string or a
    non-string come back with every required field in ``missing``.
    """
    text = fold_width(clip(text)) if isinstance(text, str) else ""
    fields: dict[str, str] = {}
    names: list[str] = []  # recipient candidates, best first

    phone = _find_phone(text)
    if phone:
        fields["phone"], (start, end) = phone
        text = f"{text[:start]},{text[end:]}"
    text = _PHONE_LEFTOVER.sub(",", text)
    labelled = _RECIPIENT.search(text)
    if labelled:
        name, end = _labelled_name(labelled)
        if name:
            fields["recipient"] = name
            text = f"{text[: labelled.start()]},{text[end:]}"

    parts: list[tuple[str, str]] = []  # (kind, value) in text order
    for raw in _SPLIT.split(text):
        if len(parts) >= MAX_PARTS:
            break  # an address has a handful of parts: the rest of a long text is not one
        part = _clean(raw)
        if not part:
            continue
        part, attached = _detach_name(part)
        names.extend(attached)
        if part:
            parts.append(_classify(part, fields))

    _assign_places(parts, fields)
    details = [value for kind, value in parts if kind == "detail"]
    if details:
        fields["detail"] = _join_details(details)

    has_address = "phone" in fields or any(
        kind in ("detail", "place", "province", "used") for kind, _ in parts
    )
    if has_address and "recipient" not in fields:
        names.extend(value for kind, value in parts if kind == "bare" and _is_name(value))
        if names:
            fields["recipient"] = names[0]
    _apply_fallback(fields, fallback)
    ordered = {key: fields[key] for key in FIELDS if fields.get(key)}
    return ParsedAddress(ordered, tuple(key for key in REQUIRED if key not in ordered))


def _find_phone(text: str) -> tuple[str, tuple[int, int]] | None:
    """The first mobile number (compact ones first) as 11 digits, with its span and label."""
    for pattern in (_PHONE_COMPACT, _PHONE_SPACED):
        found = pattern.search(text)
        if found:
            return re.sub(r"\D", "", found.group("number")), found.span()
    return None


def _labelled_name(found: re.Match) -> tuple[str | None, int]:
    """The name after a recipient label and where it ends; a name running into the address
    ("收件人李四北京市…") is cut where the address starts."""
    name, start = found.group("name"), found.start("name")
    if re.match(rf"[{_CJK}]", name):
        for cut in range(2, len(name)):
            rest = name[cut:]
            if _province_at(rest, 0) or (len(name) > 4 and _CITY_AT.match(rest)):
                name = name[:cut]
                break
        name = name[:-1] if len(name) >= 3 and name.endswith("收") else name
        if "·" not in name and len(name) > 4:
            name = name[:4]
    else:
        words = []
        for word in name.split():
            if word.lower() in _EN_NAME_STOP:
                break
            words.append(word)
        name = " ".join(words)
    if not name or name.lower() in _FILLER:
        return None, found.end()
    return name, start + len(name)


def _clean(part: str) -> str:
    """A part without lead-in words ("改成", "地址：", "change it to") and trailing thanks.

    Works on a window ``part[start:end]`` that only shrinks, so a part made of hundreds of lead
    words costs time in proportion to its length, not to its length times the words."""
    start, end = _skip_space(part, 0, len(part)), _back_space(part, 0, len(part))
    previous = None
    while (start, end) != previous:
        previous = start, end
        for lead in _LEADS:
            found = lead.match(part, start, end) if start < end else None
            if found and found.end() > start:
                start = _skip_space(part, found.end(), end)
        end = _back_space(part, start, _trailing_filler(part, start, end))
    part = part[start:end]
    return "" if part.lower() in _FILLER else part


def _skip_space(text: str, start: int, end: int) -> int:
    while start < end and text[start].isspace():
        start += 1
    return start


def _back_space(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


_TRAILING_MARKS = frozenset("~～!！.。")
_TRAILING_WORD = re.compile(
    r"(?:谢谢啦|谢谢|谢啦|多谢|麻烦了|辛苦了|thanks|thank you|thx)\Z", re.IGNORECASE
)
_TRAILING_REACH = 12  # longer than any word of thanks


def _trailing_filler(part: str, start: int, end: int) -> int:
    """Where ``part[start:end]`` ends without one trailing word of thanks and the marks and
    spaces after it ("…1203 谢谢!!" → before "谢谢"); ``end`` when it ends otherwise."""
    word_end = end
    while word_end > start and (
        part[word_end - 1].isspace() or part[word_end - 1] in _TRAILING_MARKS
    ):
        word_end -= 1
    found = _TRAILING_WORD.search(part, max(start, word_end - _TRAILING_REACH), word_end)
    return found.start() if found else end


def _detach_name(part: str) -> tuple[str, list[str]]:
    """A Chinese name written beside the address: with a space ("…3栋502 张三", "张三 广东省…")
    or right after the house number ("…3栋502张三")."""
    glued = _GLUED_NAME.search(part)
    if glued and _is_zh_name(glued.group()) and not set(glued.group()) & _ZH_POSITION_CHARS:
        return part[: glued.start()].rstrip(), [glued.group()]
    tokens = part.split()
    if len(tokens) < 2 or not re.search(rf"[{_CJK}]", part):
        return part, []
    last = _strip_shou(tokens[-1])
    if _is_zh_name(last):
        return " ".join(tokens[:-1]), [last]
    first = _strip_shou(tokens[0])
    rest = " ".join(tokens[1:])
    if _is_zh_name(first) and (_province_at(rest, 0) or _CITY_AT.match(rest)):
        return rest, [first]
    return part, []


def _strip_shou(token: str) -> str:
    return token[:-1] if len(token) >= 3 and token.endswith("收") else token  # "张三收"


def _is_zh_name(token: str) -> bool:
    return (
        bool(_ZH_NAME.fullmatch(token))
        and not any(char in _ZH_ADDRESS_CHARS for char in token)
        and token not in _FILLER
        and normalize_province(token) is None
    )


def _is_name(value: str) -> bool:
    if _is_zh_name(value):
        return True
    return bool(_EN_NAME.fullmatch(value)) and not (
        {word.lower() for word in value.split()} & _EN_ADDRESS_WORDS
        or value.lower() in _PROVINCE_EN
        or _COUNTRY.fullmatch(value)
    )


def _province_at(text: str, pos: int) -> tuple[str, int] | None:
    """The official name of the province written at ``pos`` and where it ends."""
    found = _PROVINCE_AT.match(text, pos)
    if not found:
        return None
    full = _PROVINCE_BY_NAME[found.group()]
    short = found.group() == _SHORT_OF[full]
    if short and full not in CITY_LEVEL and text.startswith("市", found.end()):
        return None  # 吉林市 is a city of 吉林省
    return full, found.end()


def _parse_chinese(part: str) -> dict[str, str]:
    """Province, city, district and detail of a Chinese address written from its start."""
    fields: dict[str, str] = {}
    pos = 0
    province = _province_at(part, 0)
    if province:
        fields["province"], pos = province
        if fields["province"] in CITY_LEVEL:
            fields["city"] = fields["province"]
            short = re.escape(_SHORT_OF[fields["province"]])
            again = re.compile(rf"\s*(?:{short}(?:市|特别行政区)?)?(?:市辖区)?").match(part, pos)
            pos = again.end()
    if "city" not in fields:
        city = _CITY_AT.match(part, pos)
        if not city and province:
            city = _BARE_CITY_AT.match(part, pos)
        if city and not _NOT_A_DIVISION.search(city.group("name")):
            fields["city"], pos = city.group("name"), city.end()
    district = _DISTRICT_AT.match(part, pos)
    if district and not _NOT_A_DIVISION.search(district.group("name")):
        fields["district"], pos = district.group("name"), district.end()
    detail = _tidy(part[pos:])
    if detail and _looks_like_detail(detail):
        fields["detail"] = detail
    return fields


def _tidy(text: str) -> str:
    """No spaces next to Chinese characters, single spaces elsewhere, no stray punctuation."""
    text = re.sub(rf"(?<!\s)\s+(?=[{_CJK}])|(?<=[{_CJK}])\s+", "", text)
    return re.sub(r"\s+", " ", text).strip(" -:：#")


def _looks_like_detail(text: str) -> bool:
    if not re.search(rf"[A-Za-z{_CJK}]", text):
        return False  # a bare number is not an address
    if re.search(r"\d", text) or any(char in _ZH_ADDRESS_CHARS for char in text):
        return True
    return bool({word.lower().strip(".#") for word in text.split()} & _EN_ADDRESS_WORDS)


def _classify(part: str, fields: dict[str, str]) -> tuple[str, str]:
    """What one comma-separated part is: "detail", "place" (a named division), "province",
    "bare" (a place or a person's name, decided later) or "drop"; the divisions it names go
    straight into ``fields``."""
    if _COUNTRY.fullmatch(part) or _POSTCODE.fullmatch(part):
        return "drop", part
    province = normalize_province(part) or _PROVINCE_EN.get(part.lower())
    if province:
        value = province if re.search(rf"[{_CJK}]", part) else part
        _fill(fields, "province", value)
        if province in CITY_LEVEL:
            _fill(fields, "city", value)
        return "province", value
    if re.match(rf"[{_CJK}]", part):
        found = _parse_chinese(part)
        if found.keys() - {"detail"}:
            for key, value in found.items():
                if key == "detail":
                    return "detail", value
                _fill(fields, key, value)
            return "place", part
    for key, pattern in _EN_LABELLED:
        if _labelled_as(pattern, part) and not re.search(r"\d", part):
            _fill(fields, key, part)
            return "place", part
    if _looks_like_detail(part):
        return "detail", _tidy(part)
    if _is_zh_name(part) or _EN_WORDS.fullmatch(part):
        return "bare", part
    return "drop", part


def _labelled_as(pattern: re.Pattern[str], part: str) -> bool:
    """Whether ``part`` is a name, spaces, then the word ``pattern`` reads at its end."""
    word = pattern.search(part, max(0, len(part) - _LABEL_REACH))
    if word is None:
        return False
    before = part[: word.start()]
    return len(before) >= 2 and before[-1].isspace() and "\n" not in before


_LABEL_REACH = 40  # longer than any of the words ("autonomous region")


def _fill(fields: dict[str, str], key: str, value: str) -> None:
    fields.setdefault(key, value)


def _assign_places(parts: list[tuple[str, str]], fields: dict[str, str]) -> None:
    """Give bare place names ("Shenzhen", "深圳") to the city, and the province when none was
    named; a bare part is turned into "used" when it is taken."""
    bare = [i for i, (kind, _) in enumerate(parts) if kind == "bare"]
    if not bare or "city" in fields:
        return
    anchors = [i for i, (kind, _) in enumerate(parts) if kind in ("detail", "place", "province")]
    if not anchors:
        return
    provinces = [i for i, (kind, _) in enumerate(parts) if kind == "province"]
    if provinces:
        # next to the province: before it in English order, after it in Chinese order
        p = provinces[0]
        details = [i for i, (kind, _) in enumerate(parts) if kind == "detail"]
        order = (p - 1, p + 1) if details and details[0] < p else (p + 1, p - 1)
        for i in order:
            if i in bare:
                fields["city"] = parts[i][1]
                parts[i] = ("used", parts[i][1])
                return
        return
    # without a province beside them, only capitalised or Chinese names after the address
    last_anchor = max(anchors)
    after = [i for i in bare if i > last_anchor and _is_place_name(parts[i][1])]
    if "province" not in fields and len(after) >= 2:
        fields["province"] = parts[after[-1]][1]
        fields["city"] = parts[after[-2]][1]
        for i in after[-2:]:
            parts[i] = ("used", parts[i][1])
    elif after:
        fields["city"] = parts[after[0]][1]
        parts[after[0]] = ("used", parts[after[0]][1])


def _is_place_name(value: str) -> bool:
    return bool(re.fullmatch(rf"[{_CJK}]+|[A-Z][A-Za-z'\-]*(?:\s+[A-Z][A-Za-z'\-]*)*", value))


def _join_details(details: list[str]) -> str:
    joined = details[0]
    for detail in details[1:]:
        chinese = re.search(rf"[{_CJK}]$", joined) and re.match(rf"[{_CJK}]", detail)
        joined += detail if chinese else f", {detail}"
    return joined


def _apply_fallback(fields: dict[str, str], fallback: Mapping[str, str] | None) -> None:
    """Recipient and phone the text leaves out come from the order's current address."""
    if not isinstance(fallback, Mapping):
        return
    recipient = fallback.get("recipient")
    if "recipient" not in fields and isinstance(recipient, str) and recipient.strip():
        fields["recipient"] = recipient.strip()
    phone = fallback.get("phone")
    if "phone" not in fields and isinstance(phone, str) and phone.strip():
        fields["phone"] = mobile_number(phone) or phone.strip()
