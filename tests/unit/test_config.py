import pytest

from kefu.config import ConfigError, load_shop_config

VALID = """
shop:
  name: {zh: 小店, en: Little Shop}
  default_language: en
customer_service:
  hotline: "400-000-0000"
  email: help@example.com
  hours: {zh: 全天, en: all day}
storefront:
  product_url: "https://little.example/p/{sku}"
  how_to_buy: {zh: [下单], en: [Order it]}
attribute_labels:
  screen: {zh: 屏幕, en: Screen}
"""


def test_loads_the_projects_shop_config():
    config = load_shop_config()
    assert config.default_language in ("zh", "en")
    assert config.customer_service.hotline
    assert config.name.get("en") and config.name.get("zh")


def test_bilingual_values_follow_the_language(tmp_path):
    path = tmp_path / "shop.yml"
    path.write_text(VALID, encoding="utf-8")
    config = load_shop_config(path)
    assert config.name.get("en") == "Little Shop"
    assert config.name.get("zh") == "小店"
    assert config.name.get(None) == "小店"
    assert config.customer_service.hours.get("en") == "all day"


def test_missing_english_text_is_reported_with_the_file(tmp_path):
    path = tmp_path / "shop.yml"
    path.write_text(VALID.replace(", en: Little Shop", ""), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"shop\.yml.*shop\.name.*'zh' and 'en'"):
        load_shop_config(path)


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "shop.yml"
    path.write_text("shop:\n  name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"shop\.yml: line \d+ is not valid YAML"):
        load_shop_config(path)


def test_unsupported_default_language(tmp_path):
    path = tmp_path / "shop.yml"
    path.write_text(VALID.replace("default_language: en", "default_language: fr"), "utf-8")
    with pytest.raises(ConfigError, match="default_language"):
        load_shop_config(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_shop_config(tmp_path / "nope.yml")


def test_storefront_links_prefer_the_products_own_url(tmp_path):
    path = tmp_path / "shop.yml"
    path.write_text(VALID, encoding="utf-8")
    storefront = load_shop_config(path).storefront
    assert storefront.link("product_url", None, "PH-1", 7) == "https://little.example/p/PH-1"
    assert storefront.link("product_url", "https://own/x", "PH-1", 7) == "https://own/x"
    assert storefront.link("image_url", None, "PH-1", 7) is None


def test_defaults_and_labels(tmp_path):
    path = tmp_path / "shop.yml"
    path.write_text(VALID, encoding="utf-8")
    config = load_shop_config(path)
    assert config.recommendations.page_size == 3
    assert config.attribute_labels["screen"].get("en") == "Screen"


def test_missing_how_to_buy_steps_is_an_error(tmp_path):
    path = tmp_path / "shop.yml"
    path.write_text(VALID.replace("how_to_buy: {zh: [下单], en: [Order it]}", ""), "utf-8")
    with pytest.raises(ConfigError, match="how_to_buy"):
        load_shop_config(path)


def test_page_size_must_be_sane(tmp_path):
    path = tmp_path / "shop.yml"
    path.write_text(VALID + "recommendations: {page_size: 0}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="page_size"):
        load_shop_config(path)
