"""Facts: what the shop knows, in both languages, from its four sources.

* ``policies.yml`` (:mod:`kefu.policies`): the answer to every policy topic;
* ``shop.yml`` (:mod:`kefu.config`): contact and service hours, how to buy, account help;
* the shop database: every active product's title, price, description, specifications and
  options (colours, versions, sizes);
* the FAQ folder (:mod:`kefu.knowledge.faq`).

Each :class:`Fact` has a title (the citation: product name, policy or FAQ question) and a text
in Chinese and in English, so a question in one language can be answered from the same fact in
the other.  :func:`fingerprint` is a cheap hash that changes whenever any source changes.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session, selectinload

from kefu.config import Bilingual, ShopConfig
from kefu.knowledge.faq import FaqEntry, faq_files
from kefu.models import Category, Product
from kefu.policies import TOPICS, Policies, answer
from kefu.products import load_details, money

KINDS = ("faq", "policy", "shop", "product")


@dataclass(frozen=True)
class Fact:
    id: str  # "faq:gift-wrapping", "policy:warranty_repair", "shop:contact", "product:PH-MI-15"
    kind: str  # one of KINDS
    title: Bilingual  # what the answer cites
    text: Bilingual  # what the answer says
    search: Bilingual  # what retrieval reads (title, other phrasings, text)
    names: tuple[str, ...] = ()  # brand and product names this fact is about (guardrails)
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    def get(self, language: str) -> str:
        return self.text.get(language)


KIND_LABELS = {
    "faq": Bilingual("常见问题", "FAQ"),
    "policy": Bilingual("店铺政策", "Shop policy"),
    "shop": Bilingual("店铺信息", "Shop information"),
    "product": Bilingual("商品", "Product"),
}

POLICY_TITLES = {
    "check_refund_policy": Bilingual("退换货与退款", "Returns and refunds"),
    "check_cancellation_fee": Bilingual("取消订单", "Cancelling an order"),
    "delivery_options": Bilingual("配送方式与运费", "Delivery options and fees"),
    "delivery_period": Bilingual("送达时间", "Delivery times"),
    "warranty_repair": Bilingual("保修", "Warranty"),
    "check_payment_methods": Bilingual("付款方式", "Payment methods"),
    "get_invoice": Bilingual("发票", "Invoices"),
}
# words customers use for a topic that its answer does not contain
POLICY_KEYWORDS = {
    "check_refund_policy": Bilingual("退货 退款 退换 七天无理由 退钱", "return refund money back"),
    "check_cancellation_fee": Bilingual("取消订单 手续费 不想要了", "cancel order fee"),
    "delivery_options": Bilingual("配送 快递 运费 包邮 物流", "delivery shipping fee courier"),
    "delivery_period": Bilingual("多久到 几天到 送达 时效", "how long delivery arrive days"),
    "warranty_repair": Bilingual("保修 维修 质保 坏了", "warranty repair broken guarantee"),
    "check_payment_methods": Bilingual("付款 支付 付钱 花呗", "pay payment card"),
    "get_invoice": Bilingual("发票 开票 专票 普票", "invoice fapiao receipt"),
}
ACCOUNT_TITLES = {
    "create_account": Bilingual("注册账号", "Creating an account"),
    "registration_problems": Bilingual("注册遇到问题", "Problems signing up"),
    "recover_password": Bilingual("找回密码", "Recovering a password"),
    "edit_account": Bilingual("修改账户资料", "Editing account details"),
    "switch_account": Bilingual("切换账号", "Switching accounts"),
    "set_up_shipping_address": Bilingual("设置收货地址", "Setting up a delivery address"),
    "newsletter_subscription": Bilingual("订阅或退订优惠消息", "Newsletter and offers"),
    "delete_account": Bilingual("注销账号", "Closing an account"),
}


def _bi(zh: str, en: str) -> Bilingual:
    return Bilingual(zh=zh, en=en)


def faq_facts(entries: Iterable[FaqEntry]) -> list[Fact]:
    facts = []
    for entry in entries:
        also = entry.also
        search = _bi(
            " ".join((entry.question.zh, *also.get("zh", ()), entry.answer.zh)),
            " ".join((entry.question.en, *also.get("en", ()), entry.answer.en)),
        )
        facts.append(
            Fact(
                id=f"faq:{entry.id}",
                kind="faq",
                title=entry.question,
                text=entry.answer,
                search=search,
                meta={"source": entry.source, "also": entry.also},
            )
        )
    return facts


def policy_facts(p: Policies) -> list[Fact]:
    facts = []
    for topic in TOPICS:
        title = POLICY_TITLES.get(topic, _bi(topic, topic.replace("_", " ")))
        body = _bi(answer(p, topic, "zh"), answer(p, topic, "en"))
        keywords = POLICY_KEYWORDS.get(topic, _bi("", ""))
        facts.append(
            Fact(
                id=f"policy:{topic}",
                kind="policy",
                title=title,
                text=body,
                search=_bi(
                    f"{title.zh} {keywords.zh} {body.zh}", f"{title.en} {keywords.en} {body.en}"
                ),
            )
        )
    return facts


def shop_facts(config: ShopConfig) -> list[Fact]:
    service = config.customer_service
    contact = _bi(
        f"客服热线 {service.hotline}，邮箱 {service.email}，服务时间 {service.hours.zh}。",
        f"Hotline {service.hotline}, e-mail {service.email}, hours: {service.hours.en}.",
    )
    title = _bi("联系客服", "Contacting customer service")
    facts = [
        Fact(
            id="shop:contact",
            kind="shop",
            title=title,
            text=contact,
            search=_bi(
                f"{title.zh} 电话 热线 邮箱 人工 营业时间 上班时间 {contact.zh}",
                f"{title.en} phone number call email hours open {contact.en}",
            ),
        )
    ]
    steps = config.storefront.how_to_buy
    how = _bi(
        "\n".join(f"{i}. {s}" for i, s in enumerate(steps["zh"], 1)),
        "\n".join(f"{i}. {s}" for i, s in enumerate(steps["en"], 1)),
    )
    title = _bi("怎么下单购买", "How to buy")
    facts.append(
        Fact(
            id="shop:how_to_buy",
            kind="shop",
            title=title,
            text=how,
            search=_bi(f"{title.zh} 下单 购买 买 {how.zh}", f"{title.en} order purchase {how.en}"),
        )
    )
    for intent, help_ in config.account_help.items():
        title = ACCOUNT_TITLES.get(intent, _bi(intent, intent.replace("_", " ")))
        body = _bi(
            "\n".join(f"{i}. {s}" for i, s in enumerate(help_.steps.get("zh", []), 1)),
            "\n".join(f"{i}. {s}" for i, s in enumerate(help_.steps.get("en", []), 1)),
        )
        facts.append(
            Fact(
                id=f"shop:{intent}",
                kind="shop",
                title=title,
                text=body,
                search=_bi(f"{title.zh} {body.zh}", f"{title.en} {body.en}"),
            )
        )
    return facts


def _product_text(d, language: str) -> tuple[str, str]:
    """(text shown, text searched) for one product's details in one language."""
    zh = language == "zh"
    sep = "：" if zh else ": "
    lines = [d.title, d.description or ""]  # the same lines in both languages, in order
    price = money(d.price)
    if d.list_price is not None and d.list_price > d.price:
        price += f"（原价 {money(d.list_price)}）" if zh else f" (list price {money(d.list_price)})"
    lines.append(("售价" if zh else "Price") + sep + price)
    specs = [f"{s.label}{sep}{s.value}" for s in d.specs]
    options = []
    for label_zh, label_en, values in (
        ("颜色", "Colours", d.colors),
        ("版本", "Versions", d.storages),
        ("尺码", "Sizes", d.sizes),
    ):
        if values:
            options.append(f"{label_zh if zh else label_en}{sep}{' / '.join(values)}")
    lines.extend(specs)
    lines.extend(options)
    if d.release_date:
        lines.append(("上市" if zh else "Released") + sep + d.release_date)
    shown = "\n".join(lines)  # line 1 may be empty: kept so both languages align
    searched = " ".join([d.brand, d.title, d.description, *specs, *options])
    return shown, searched


def product_facts(session: Session, config: ShopConfig) -> list[Fact]:
    ids = list(
        session.scalars(select(Product.id).where(Product.is_active.is_(True)).order_by(Product.id))
    )
    labels = config.attribute_labels
    zh = load_details(session, ids, "zh", labels)
    en = load_details(session, ids, "en", labels)
    categories = {
        c.id: c for c in session.scalars(select(Category).options(selectinload(Category.parent)))
    }
    category_of = dict(session.execute(select(Product.id, Product.category_id)).all())
    facts = []
    for dz, de in zip(zh, en, strict=True):
        shown_zh, search_zh = _product_text(dz, "zh")
        shown_en, search_en = _product_text(de, "en")
        category = categories.get(category_of.get(dz.id))
        cat = _bi(category.name_zh, category.name_en) if category else _bi("", "")
        facts.append(
            Fact(
                id=f"product:{dz.sku}",
                kind="product",
                title=_bi(dz.title, de.title),
                text=_bi(shown_zh, shown_en),
                search=_bi(f"{cat.zh} {search_zh}", f"{cat.en} {search_en}"),
                names=(dz.brand, de.brand, dz.title, de.title),
                meta={"product_id": dz.id, "sku": dz.sku},
            )
        )
    return facts


def all_facts(
    session: Session | None,
    config: ShopConfig,
    p: Policies,
    faq: Sequence[FaqEntry],
) -> list[Fact]:
    """Every fact the shop knows (products only with a database session)."""
    facts = faq_facts(faq) + policy_facts(p) + shop_facts(config)
    if session is not None:
        facts += product_facts(session, config)
    return facts


# ----------------------------------------------------------------------------- fingerprint

# columns of the shop database the facts read; prices count, stock does not
_FINGERPRINT_COLUMNS = (
    ("categories", ("id", "parent_id", "name_zh", "name_en")),
    ("brands", ("id", "key", "name_zh", "name_en", "synonyms")),
    (
        "products",
        (
            "id",
            "sku",
            "title_zh",
            "title_en",
            "description_zh",
            "description_en",
            "brand_id",
            "category_id",
            "price",
            "list_price",
            "release_date",
            "is_active",
        ),
    ),
    ("product_attributes", ("product_id", "key", "value_zh", "value_en")),
    ("product_variants", ("product_id", "color_zh", "color_en", "size", "storage")),
)


def _crc32(value: str | None) -> int:
    return zlib.crc32((value or "").encode("utf-8"))


def database_fingerprint(session: Session) -> str:
    """A hash of everything :func:`product_facts` reads, in one aggregate query (SQLite and
    PostgreSQL hash in SQL; other databases read the columns)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.connection().connection.create_function("kefu_crc32", 1, _crc32, deterministic=True)
        row_hash = "kefu_crc32({})"
    elif dialect == "postgresql":
        row_hash = "('x' || substr(md5({}), 1, 8))::bit(32)::int"
    else:  # pragma: no cover - other databases
        digest = hashlib.sha256()
        for table, columns in _FINGERPRINT_COLUMNS:
            for row in session.execute(text(f"SELECT {', '.join(columns)} FROM {table}")):
                digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()[:16]
    parts = []
    for table, columns in _FINGERPRINT_COLUMNS:
        joined = " || '\x1f' || ".join(f"coalesce(CAST({c} AS TEXT), '')" for c in columns)
        parts.append(f"(SELECT count(*) FROM {table})")
        parts.append(f"(SELECT coalesce(sum({row_hash.format(joined)}), 0) FROM {table})")
    row = session.execute(text("SELECT " + ", ".join(parts))).one()
    return hashlib.sha256(repr(tuple(row)).encode()).hexdigest()[:16]


def file_fingerprint(paths: Iterable[str | Path]) -> str:
    """A hash of the files' names, sizes and modification times (missing files count too)."""
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        try:
            stat = path.stat()
            digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{path}|missing\n".encode())
    return digest.hexdigest()[:16]


def source_files(policies_path: str | Path, config_path: str | Path | None) -> list[Path]:
    files = [Path(policies_path)]
    if config_path:
        files.append(Path(config_path))
    return files + faq_files()
