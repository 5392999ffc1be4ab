"""The demo shop's web site (kefu.demo.site) on the order-test shop: pages, pictures, login."""

from __future__ import annotations

import logging
import os
import re
import time
from decimal import Decimal
from http.cookies import SimpleCookie

import pytest
import requests
from aiohttp.test_utils import TestClient, TestServer
from defusedxml import ElementTree
from sqlalchemy import select

from kefu.cli import main
from kefu.db import session_scope
from kefu.demo import site
from kefu.demo.generate import DEMO_MARKER
from kefu.demo.site import create_app, resolve_bot_url, session_customer, session_value
from kefu.identity import verify_token
from kefu.models import Customer, Product, ShopMeta
from tests.cli_server import kefu_serving
from tests.shop.order_shop import PHONE

BOT = "http://127.0.0.1:5005"
SECRET = "s" * 40
WIDGET_TAG = re.compile(
    r"<script src=\"http://127\.0\.0\.1:5005/webhooks/webchat/widget\.js\"[^>]*>"
)


@pytest.fixture
async def client_for():
    """Starts the site on a shop's session factory; ``secret`` None means login disabled."""
    clients = []

    async def start(factory, secret: str | None = SECRET, bot_url: str = BOT) -> TestClient:
        client = TestClient(TestServer(create_app(factory, bot_url, secret=lambda: secret)))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


def widget_tag(page: str) -> str:
    match = WIDGET_TAG.search(page)
    assert match, "the web chat's script tag is missing"
    return match.group()


def add_product(factory, sku: str, title: str, **fields) -> None:
    with session_scope(factory) as session:
        template = session.scalars(select(Product).where(Product.sku == "PH-XM-15")).one()
        session.add(
            Product(
                sku=sku,
                title_zh=title,
                title_en=fields.pop("title_en", title),
                brand=template.brand,
                category=template.category,
                price=fields.pop("price", Decimal("99")),
                stock_total=fields.pop("stock_total", 5),
                **fields,
            )
        )


async def login_as(client: TestClient, customer_id: int):
    """Logs in through the form; returns the response of the POST (not followed)."""
    form = await client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', await form.text()).group(1)
    return await client.post(
        "/login", data={"csrf": csrf, "customer_id": str(customer_id)}, allow_redirects=False
    )


# ---- pages ------------------------------------------------------------------------------------


async def test_home_lists_the_newest_in_stock_products_and_embeds_the_web_chat(shop, client_for):
    add_product(shop.factory, "PH-SOLD-OUT", "售罄的新手机", stock_total=0)
    with session_scope(shop.factory) as session:
        expected = [
            p.sku
            for p in session.scalars(
                select(Product)
                .where(Product.stock_total > 0, Product.is_active)
                .order_by(Product.release_date.desc())
            )
        ]
    client = await client_for(shop.factory)
    response = await client.get("/")
    assert response.status == 200
    page = await response.text()
    shown = re.findall(r'data-shop="product" data-sku="([^"]+)"', page)
    assert shown[:2] == expected[:2] and set(shown) == set(expected)
    assert "PH-SOLD-OUT" not in shown
    assert 'href="/shop/products/PH-HW-M80"' in page
    assert 'src="/shop/images/PH-HW-M80.svg"' in page
    assert "¥6,999" in page and "华为 Mate 80 Pro 5G 手机" in page
    assert 'href="/shop/categories/digital"' in page and "服饰" in page
    tag = widget_tag(page)
    assert f'data-server="{BOT}"' in tag and "defer" in tag
    assert "data-customer-token" not in tag


async def test_product_page_shows_price_specs_and_variants(shop, client_for):
    client = await client_for(shop.factory)
    response = await client.get("/shop/products/PH-HW-M80")
    assert response.status == 200
    page = await response.text()
    for fact in ("华为 Mate 80 Pro 5G 手机", "Huawei Mate 80 Pro 5G", "¥6,999", "¥7,499"):
        assert fact in page
    assert "屏幕" in page and "6.8英寸 OLED" in page and "Kirin 9030" in page
    assert len(re.findall(r'data-shop="variant"', page)) == 4  # 2 colours × 2 storages
    assert "绿色 / Green" in page and "512GB" in page
    widget_tag(page)


async def test_unknown_pages_get_the_shops_404_page(shop, client_for):
    client = await client_for(shop.factory)
    for path in ("/shop/products/NO-SUCH-SKU", "/shop/categories/nothing", "/nowhere"):
        response = await client.get(path)
        assert response.status == 404, path
        page = await response.text()
        assert 'data-shop="not-found"' in page
        assert "Content-Security-Policy" in response.headers
    assert (await client.get("/shop/images/NO-SUCH-SKU.svg")).status == 404


async def test_category_page_lists_its_subcategories_products(shop, client_for):
    client = await client_for(shop.factory)
    page = await (await client.get("/shop/categories/digital")).text()
    shown = set(re.findall(r'data-shop="product" data-sku="([^"]+)"', page))
    assert shown == {"PH-HW-M80", "PH-AP-18", "PH-XM-15", "LT-HW-XP"}


async def test_server_text_is_escaped(shop, client_for):
    add_product(shop.factory, "XSS-1", '<script>alert("x")</script> & <b>bold</b>')
    client = await client_for(shop.factory)
    page = await (await client.get("/shop/products/XSS-1")).text()
    assert "<script>alert" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page


# ---- pictures ---------------------------------------------------------------------------------


async def test_product_picture_is_an_escaped_cacheable_svg(shop, client_for):
    add_product(shop.factory, "SVG-1", 'Mini <"手机"> & Co', title_en="Mini")
    client = await client_for(shop.factory)
    response = await client.get("/shop/images/SVG-1.svg")
    assert response.status == 200
    assert response.content_type == "image/svg+xml"
    assert "max-age=" in response.headers["Cache-Control"]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    svg = await response.text()
    root = ElementTree.fromstring(svg)  # well-formed XML despite <, > and & in the title
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "SVG-1" in texts and any("手机" in t for t in texts)
    assert root.get("aria-label") == 'Mini <"手机"> & Co'
    again = await client.get(
        "/shop/images/SVG-1.svg", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status == 304


async def test_pictures_take_the_colour_of_the_category(shop, client_for):
    client = await client_for(shop.factory)

    async def fill(sku: str) -> str:
        svg = await (await client.get(f"/shop/images/{sku}.svg")).text()
        return re.search(r'<rect [^>]*fill="([^"]+)"', svg).group(1)

    assert await fill("PH-HW-M80") == await fill("PH-AP-18")  # both phones
    assert await fill("PH-HW-M80") != await fill("SH-NK-AF1")


def test_shop_cards_link_to_the_generated_pictures():
    from kefu.config import load_shop_config

    storefront = load_shop_config().storefront
    assert storefront.link("image_url", None, "PH-1", 1) == "/shop/images/PH-1.svg"


# ---- login ------------------------------------------------------------------------------------


async def test_login_shows_masked_names_and_gives_the_web_chat_a_token(shop, client_for):
    client = await client_for(shop.factory)
    form = await (await client.get("/login")).text()
    assert "张**" in form and "张三丰" not in form and PHONE not in form

    response = await login_as(client, shop.customer_id)
    assert response.status == 303 and response.headers["Location"] == "/"
    cookie = SimpleCookie(response.headers["Set-Cookie"])[site.SESSION_COOKIE]
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax"
    assert session_customer(cookie.value, SECRET) == shop.customer_id

    page = await (await client.get("/")).text()
    assert 'data-shop="customer-name">张**<' in page and "张三丰" not in page
    token = re.search(r'data-customer-token="([^"]+)"', widget_tag(page)).group(1)
    assert verify_token(token, SECRET) == shop.customer_id


async def test_login_needs_the_forms_csrf_token(shop, client_for):
    client = await client_for(shop.factory)
    await client.get("/login")  # sets the CSRF cookie
    forged = await client.post(
        "/login", data={"csrf": "guess", "customer_id": str(shop.customer_id)}
    )
    assert forged.status == 403
    assert "data-customer-token" not in await (await client.get("/")).text()


async def test_tampered_or_expired_session_cookies_are_ignored(shop, client_for):
    with session_scope(shop.factory) as session:
        other = Customer(name="李四", phone="13900002222")
        session.add(other)
        session.flush()
        other_id = other.id
    genuine = session_value(shop.customer_id, SECRET)
    tampered = genuine.replace(f"{shop.customer_id}.", f"{other_id}.", 1)
    assert session_customer(tampered, SECRET) is None
    assert session_customer(session_value(other_id, "t" * 40), SECRET) is None
    assert (
        session_customer(session_value(other_id, SECRET, now=time.time() - 9 * 3600), SECRET)
        is None
    )
    client = await client_for(shop.factory)
    for value in (tampered, "1.9999999999.x", "garbage"):
        client.session.cookie_jar.update_cookies({site.SESSION_COOKIE: value})
        page = await (await client.get("/")).text()
        assert "data-customer-token" not in page and 'data-shop="login"' in page


async def test_logout_ends_the_session_and_clears_the_chat(shop, client_for):
    client = await client_for(shop.factory)
    await login_as(client, shop.customer_id)
    page = await (await client.get("/")).text()
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    assert (await client.post("/logout", data={"token": "wrong"})).status == 403
    response = await client.post("/logout", data={"token": token}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Clear-Site-Data"] == '"storage"'
    page = await (await client.get("/")).text()
    assert "data-customer-token" not in page and 'data-shop="login"' in page


async def test_without_a_secret_login_is_disabled_not_broken(shop, client_for, monkeypatch):
    monkeypatch.delenv("KEFU_IDENTITY_SECRET", raising=False)
    client = await client_for(shop.factory, secret=None)
    response = await client.get("/login")
    assert response.status == 200
    assert 'data-shop="login-disabled"' in await response.text()
    refused = await client.post("/login", data={"customer_id": str(shop.customer_id)})
    assert refused.status == 403
    # a cookie signed while the secret existed does not log anyone in now
    client.session.cookie_jar.update_cookies(
        {site.SESSION_COOKIE: session_value(shop.customer_id, SECRET)}
    )
    assert "data-customer-token" not in await (await client.get("/")).text()
    assert site.current_secret() is None


async def test_logs_hold_no_personal_data(shop, client_for, caplog):
    caplog.set_level(logging.DEBUG)
    client = await client_for(shop.factory)
    await login_as(client, shop.customer_id)
    page = await (await client.get("/")).text()
    token = re.search(r'data-customer-token="([^"]+)"', page).group(1)
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[site.SESSION_COOKIE]
    assert "logged in" in caplog.text
    for secret in ("张三丰", "张**", PHONE, "zhang@example.com", token, cookie.value):
        assert secret not in caplog.text


# ---- security headers and configuration -------------------------------------------------------


async def test_content_security_policy_allows_the_bot_and_nothing_else(shop, client_for):
    client = await client_for(shop.factory, bot_url="https://bot.example.com:8443/")
    response = await client.get("/")
    policy = dict(
        part.strip().split(" ", 1)
        for part in response.headers["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self' https://bot.example.com:8443"
    assert set(policy["connect-src"].split()) == {
        "'self'",
        "https://bot.example.com:8443",
        "wss://bot.example.com:8443",
    }
    assert "'self'" in policy["img-src"] and "unsafe-inline" not in policy["script-src"]
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert 'src="https://bot.example.com:8443/webhooks/webchat/widget.js"' in await response.text()


def test_bot_url_comes_from_the_option_the_environment_or_the_default(monkeypatch):
    monkeypatch.delenv("KEFU_BOT_URL", raising=False)
    assert resolve_bot_url() == "http://127.0.0.1:5005"
    monkeypatch.setenv("KEFU_BOT_URL", "https://bot.example.com/")
    assert resolve_bot_url() == "https://bot.example.com"
    assert resolve_bot_url("http://10.0.0.2:5005") == "http://10.0.0.2:5005"
    for bad in ("javascript:alert(1)", "ftp://x", "http://", "http://a b", "http://x/?q=1"):
        with pytest.raises(ValueError):
            resolve_bot_url(bad)


def test_cli_refuses_a_bad_bot_url(capsys):
    assert main(["demo", "serve", "--bot-url", "javascript:alert(1)"]) == 2
    assert "bot URL" in capsys.readouterr().err


async def test_login_as_an_unlisted_customer_is_refused(shop, client_for):
    """The login page lists a few demo accounts; any other customer id gets no token."""
    with session_scope(shop.factory) as session:
        other = Customer(name="王五", phone="13900003333")  # no orders: not on the login page
        session.add(other)
        session.flush()
        other_id = other.id
    client = await client_for(shop.factory)
    form = await (await client.get("/login")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    response = await client.post(
        "/login", data={"csrf": csrf, "customer_id": str(other_id)}, allow_redirects=False
    )
    assert response.status == 400
    assert site.SESSION_COOKIE not in response.cookies
    assert "data-customer-token" not in await (await client.get("/")).text()


def _mark_as_demo(factory) -> None:
    with session_scope(factory) as session:
        session.merge(ShopMeta(key=DEMO_MARKER, value="test"))


def test_the_demo_refuses_a_database_that_is_not_the_demos(shop, database_url, capsys):
    env = {**os.environ, "KEFU_DB_URL": database_url}
    with pytest.raises(site.DemoRefused):
        site.check_demo_allowed(shop.factory, env)
    _mark_as_demo(shop.factory)
    site.check_demo_allowed(shop.factory, env)
    with pytest.raises(site.DemoRefused, match="production"):
        site.check_demo_allowed(shop.factory, {**env, "KEFU_PROFILE": "production"})


def test_kefu_demo_serve_runs_the_site(shop, database_url):
    _mark_as_demo(shop.factory)
    env = {**os.environ, "KEFU_DB_URL": database_url, "KEFU_BOT_URL": "http://127.0.0.1:5999"}
    env.pop("KEFU_IDENTITY_SECRET", None)
    # the first page warms the catalog up: slow on a busy machine, so wait long
    with kefu_serving(["demo", "serve"], env, "/", first_timeout=30) as served:
        assert served.first.status_code == 200
        assert 'src="http://127.0.0.1:5999/webhooks/webchat/widget.js"' in served.first.text
        login = requests.get(f"{served.url}/login", timeout=5)
        assert 'data-shop="login-disabled"' in login.text
    output = served.output
    assert "张三丰" not in output and "127.0.0.1:5999" in output
    assert re.search(r'"GET / HTTP/1\.1" 200', output)  # the access log, without addresses
    assert not re.search(r"127\.0\.0\.1 \[", output)
