"""Long-tail answers on the mini shop: FAQ, policies, shop facts and products in both
languages (and Traditional Chinese), honest declines, and rebuilding when a source changes."""

from __future__ import annotations

from sqlalchemy import select

from kefu.db import session_scope
from kefu.knowledge.answer import ANSWER, DECLINE, answer
from kefu.knowledge.embed import EmbeddingCache, default_encoder
from kefu.knowledge.index import KnowledgeBase
from kefu.models import Product


def test_a_faq_question_in_chinese_is_answered_with_its_citation(kb):
    result = answer("可以礼品包装吗", "zh", kb)
    assert result.kind == ANSWER
    assert "礼品包装和手写贺卡都是免费的" in result.text
    assert result.citations[0] == "常见问题「可以礼品包装吗？」"
    assert result.text.endswith("来源：" + "；".join(result.citations))


def test_an_english_question_gets_the_english_fact(kb):
    result = answer("do you ship to Hong Kong?", "en", kb)
    assert result.kind == ANSWER
    assert "SF Express" in result.text and "Source: FAQ" in result.text
    assert not any("\u4e00" <= c <= "\u9fff" for c in result.text)


def test_traditional_chinese_is_understood_and_answered_in_chinese(kb):
    result = answer("有禮品包裝嗎？", "zh", kb)
    assert result.kind == ANSWER
    assert result.facts[0].id == "faq:gift-wrapping"


def test_a_policy_question_is_answered_from_policies_yml(kb):
    result = answer("退貨運費誰出", "zh", kb)
    assert result.kind == ANSWER
    assert result.facts[0].id == "policy:check_refund_policy"
    assert "退货运费由您承担" in result.text


def test_a_shop_fact_comes_from_shop_yml(kb):
    result = answer("what's your customer service email", "en", kb)
    assert result.kind == ANSWER
    assert "service@kefu-shop.example" in result.text


def test_a_product_question_gets_the_line_that_answers_it(kb):
    zh = answer("小米 15 屏幕多大", "zh", kb)
    assert zh.kind == ANSWER
    assert zh.text.splitlines()[:2] == ["小米 15 手机", "· 屏幕：6.36英寸"]
    assert zh.citations == ["商品「小米 15 手机」"]
    en = answer("how big is the screen of the Xiaomi 15", "en", kb)
    assert en.kind == ANSWER
    assert "Screen: 6.36-inch" in en.text and 'Product "Xiaomi 15"' in en.text


def test_what_the_product_facts_do_not_say_is_declined_honestly(kb):
    result = answer("小米 15 支持无线充电吗", "zh", kb)
    assert result.kind == DECLINE
    assert result.reason == "product_aspect"
    assert "小米 15 手机" in result.text and "没有写到" in result.text
    assert result.offer_person


def test_questions_the_shop_cannot_answer_are_declined_with_a_person_offered(kb):
    for question, language in [
        ("你们卖汽车吗", "zh"),
        ("明天北京天气怎么样", "zh"),
        ("do you sell cars", "en"),
        ("who is the CEO of your company", "en"),
    ]:
        result = answer(question, language, kb)
        assert result.kind == DECLINE, question
        assert result.offer_person and "400-820-8820" in result.text
    assert answer("are you hiring", "en", kb).text.startswith("Sorry")


def test_an_empty_message_or_a_payload_is_not_searched(kb):
    assert answer("", "zh", kb).reason == "empty"
    assert answer("/nlu_fallback", "zh", kb).reason == "empty"


def test_a_new_faq_entry_is_answered_without_a_restart(kb, faq_folder):
    assert answer("可以带宠物来店里吗", "zh", kb).kind == DECLINE
    (faq_folder / "pets.yml").write_text(
        """entries:
  - id: pets
    question:
      zh: 可以带宠物来店里吗？
      en: Can I bring my pet to the shop?
    answer:
      zh: 我们是网上商店，没有实体店。
      en: We are an online shop without stores.
""",
        encoding="utf-8",
    )
    result = answer("可以带宠物来店里吗", "zh", kb)
    assert result.kind == ANSWER and result.facts[0].id == "faq:pets"


def test_a_catalog_change_rebuilds_the_index(kb, mini_shop):
    assert answer("小米 15 支持无线充电吗", "zh", kb).kind == DECLINE
    with session_scope(mini_shop) as session:
        product = session.scalars(select(Product).where(Product.sku == "PH-XM-15")).one()
        product.description_zh = "小屏旗舰，支持 50W 无线充电"
        product.description_en = "Compact flagship with 50 W wireless charging."
    result = answer("小米 15 支持无线充电吗", "zh", kb)
    assert result.kind == ANSWER
    assert "50W 无线充电" in result.text


def test_embeddings_are_cached_on_disk_and_not_recomputed(kb, tmp_path, mini_shop, faq_folder):
    kb.index()
    cached = list((tmp_path / "cache").glob("embeddings-*.npz"))
    assert len(cached) == 1

    class Counting:
        texts = 0

        def encode(self, texts):
            Counting.texts += len(texts)
            return default_encoder().encode(texts)

    again = KnowledgeBase(
        mini_shop, faq_dir=faq_folder, cache=EmbeddingCache(tmp_path / "cache", Counting())
    )
    index = again.index()
    assert Counting.texts == 0
    index.search("礼品包装")  # the question itself is encoded
    assert Counting.texts == 1


def test_latency_of_an_extractive_answer(kb):
    kb.index()
    result = answer("可以开发票吗", "zh", kb)
    assert result.seconds < 0.5


def test_a_broken_faq_edit_keeps_the_last_good_index(kb, faq_folder):
    assert answer("可以礼品包装吗", "zh", kb).kind == ANSWER
    (faq_folder / "broken.yml").write_text("entries:\n  - id: x\n", encoding="utf-8")
    assert answer("可以礼品包装吗", "zh", kb).kind == ANSWER
