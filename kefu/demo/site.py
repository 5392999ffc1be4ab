"""The demo shop's web site, with kefu's web chat embedded on every page (``kefu demo serve``).

Pages: the home page (newest products, categories), a page per category and per product, a
generated SVG picture per product (the demo catalog has no photos) and a demo login.  Logging in
picks one of the demo customers: the site keeps the choice in a cookie signed with the identity
secret (``KEFU_IDENTITY_SECRET``) and hands the web chat a short-lived customer token, so the bot
knows who is asking about "my order".  Without the secret the site works, with login disabled.

It is a demo, but a careful one: templates escape everything, every page has a
Content-Security-Policy that allows scripts and connections to the bot server only, forms carry
CSRF tokens and the access log holds neither client addresses nor personal data.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import os
import re
import secrets
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote, urlsplit

import jinja2
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from kefu.catalog import CategoryTree
from kefu.config import ShopConfig, shop_config
from kefu.demo.generate import is_demo_database
from kefu.identity import IdentitySecretError, identity_secret, issue_token, mask_name
from kefu.models import Brand, Category, Customer, Order, Product
from kefu.products import money
from kefu.search import SearchQuery, search
from kefu.web import html_templates, run_in_session, sign

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
BOT_URL_ENV = "KEFU_BOT_URL"
DEFAULT_BOT_URL = "http://127.0.0.1:5005"
WIDGET_PATH = "/webhooks/webchat/widget.js"

SESSION_COOKIE = "kefu_shop_session"
CSRF_COOKIE = "kefu_shop_csrf"
SESSION_SECONDS = 8 * 3600
TOKEN_SECONDS = 3600  # the customer token the web chat passes to the bot
LOGIN_CUSTOMERS = 8
HOME_PRODUCTS = 12
CATEGORY_PRODUCTS = 24
IMAGE_MAX_AGE = 86400
# the access log: request line, status, size and time; no client address, no headers
ACCESS_LOG_FORMAT = '"%r" %s %b %Tfs'

T = TypeVar("T")


# ---- configuration ----------------------------------------------------------------------------


def resolve_bot_url(value: str | None = None) -> str:
    """The bot server's base URL: ``value``, else ``KEFU_BOT_URL``, else the local default.

    Only http(s) URLs without query or fragment are accepted; the trailing slash is dropped.
    """
    url = (value or os.environ.get(BOT_URL_ENV) or DEFAULT_BOT_URL).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"the bot URL must look like http://127.0.0.1:5005, not {url!r}")
    if re.search(r"[\s'\";,]", url):
        raise ValueError(f"the bot URL {url!r} contains characters a URL cannot have")
    return url


def bot_origins(bot_url: str) -> tuple[str, str]:
    """The bot's HTTP origin and its WebSocket twin (ws/wss), for the Content-Security-Policy."""
    parts = urlsplit(bot_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    socket_scheme = "wss" if parts.scheme == "https" else "ws"
    return origin, f"{socket_scheme}://{parts.netloc}"


def content_security_policy(bot_url: str) -> str:
    """Scripts, styles and connections from this site and the bot; images from this site."""
    http, socket = bot_origins(bot_url)
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {http}",
            f"style-src 'self' {http}",
            f"connect-src 'self' {http} {socket}",
            f"img-src 'self' data: {http}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def current_secret() -> str | None:
    """The identity secret, or None when login is disabled (unset or too short)."""
    try:
        return identity_secret()
    except IdentitySecretError:
        return None


# ---- signed session cookie --------------------------------------------------------------------

_CUSTOMER_ID = re.compile(r"[1-9][0-9]{0,17}")
_EXPIRY = re.compile(r"[0-9]{1,12}")


def session_value(customer_id: int, secret: str, now: float | None = None) -> str:
    """The session cookie for ``customer_id``: ``id.expiry.signature``."""
    expires = int(time.time() if now is None else now) + SESSION_SECONDS
    return f"{customer_id}.{expires}.{sign(secret, 'session', str(customer_id), str(expires))}"


def session_customer(value: str | None, secret: str, now: float | None = None) -> int | None:
    """The customer id of a genuine, unexpired session cookie; None for anything else."""
    parts = (value or "").split(".")
    if len(parts) != 3 or not _CUSTOMER_ID.fullmatch(parts[0]) or not _EXPIRY.fullmatch(parts[1]):
        return None
    expected = sign(secret, "session", parts[0], parts[1])
    if not hmac.compare_digest(expected.encode("ascii"), parts[2].encode("ascii", "replace")):
        return None
    if int(parts[1]) <= (time.time() if now is None else now):
        return None
    return int(parts[0])


def logout_token(session: str, secret: str) -> str:
    """The CSRF token of the logout form: bound to the session it ends."""
    return sign(secret, "logout", session)


# ---- placeholder pictures ---------------------------------------------------------------------

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _lines(text: str, width: int, count: int) -> list[str]:
    """``text`` wrapped into at most ``count`` lines of ``width`` columns (CJK counts 2)."""
    lines, line, used = [], "", 0
    for char in text.strip():
        if used + _width(char) > width:
            lines.append(line.rstrip())
            line, used = "", 0
            if len(lines) == count:
                lines[-1] = lines[-1][:-1] + "…"
                return lines
            if char == " ":
                continue
        line += char
        used += _width(char)
    if line:
        lines.append(line)
    return lines


def _xml(text: str) -> str:
    return html.escape(_NOT_XML.sub("", text), quote=True)


def placeholder_svg(sku: str, title: str, brand: str, category_key: str) -> str:
    """A 400×300 SVG picture: the category's colour, the brand, a short title and the SKU."""
    hue = int(hashlib.sha256(category_key.encode("utf-8")).hexdigest()[:6], 16) % 360
    title_lines = "".join(
        f'<text x="200" y="{150 + 30 * i}" font-size="22" fill="#fff">{_xml(line)}</text>'
        for i, line in enumerate(_lines(title, 28, 2))
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300" viewBox="0 0 400 300" '
        f'role="img" aria-label="{_xml(title)}">'
        f'<rect width="400" height="300" fill="hsl({hue}, 55%, 42%)"/>'
        f'<circle cx="340" cy="60" r="90" fill="hsl({(hue + 30) % 360}, 60%, 55%)" opacity="0.5"/>'
        '<g font-family="PingFang SC, Microsoft YaHei, Noto Sans CJK SC, sans-serif" '
        'text-anchor="middle">'
        f'<text x="200" y="100" font-size="30" font-weight="bold" fill="#fff">{_xml(brand)}</text>'
        f"{title_lines}"
        f'<text x="200" y="270" font-size="14" fill="#fff" opacity="0.8">{_xml(sku)}</text>'
        "</g></svg>"
    )


# ---- reading the shop -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductTile:
    sku: str
    title_zh: str
    title_en: str
    brand: str
    price: str
    list_price: str | None
    in_stock: bool
    image: str
    href: str


def product_href(sku: str) -> str:
    return f"/shop/products/{quote(sku, safe='')}"


def _image(product: Product, config: ShopConfig) -> str:
    link = config.storefront.link("image_url", product.image_url, product.sku, product.id)
    return link or f"/shop/images/{quote(product.sku, safe='')}.svg"


def _tile(product: Product, config: ShopConfig) -> ProductTile:
    saving = product.list_price is not None and product.list_price > product.price
    return ProductTile(
        sku=product.sku,
        title_zh=product.title_zh,
        title_en=product.title_en,
        brand=product.brand.name_zh,
        price=money(product.price),
        list_price=money(product.list_price) if saving else None,
        in_stock=product.stock_total > 0,
        image=_image(product, config),
        href=product_href(product.sku),
    )


def _tiles(session: Session, ids: list[int], config: ShopConfig) -> list[ProductTile]:
    query = select(Product).options(selectinload(Product.brand)).where(Product.id.in_(ids))
    products = {p.id: p for p in session.scalars(query)}
    return [_tile(products[i], config) for i in ids if i in products]


def _categories(session: Session) -> list[dict[str, Any]]:
    """The top categories with their sub-categories, in catalog order."""
    tree = CategoryTree.load(session)
    by_id = tree.by_id
    return [
        {
            "key": by_id[top].key,
            "zh": by_id[top].name_zh,
            "en": by_id[top].name_en,
            "children": [
                {"key": by_id[c].key, "zh": by_id[c].name_zh, "en": by_id[c].name_en}
                for c in sorted(tree.children.get(top, []))
            ],
        }
        for top in sorted(tree.children.get(None, []))
    ]


def home_data(session: Session, config: ShopConfig) -> dict[str, Any]:
    newest = search(session, SearchQuery(sort="newest", in_stock_only=True, limit=HOME_PRODUCTS))
    return {"products": _tiles(session, newest.product_ids, config)}


def category_data(session: Session, key: str, config: ShopConfig) -> dict[str, Any] | None:
    category = session.scalar(select(Category).where(Category.key == key))
    if category is None:
        return None
    found = search(session, SearchQuery(category=key, sort="sales", limit=CATEGORY_PRODUCTS))
    return {
        "category": {"key": category.key, "zh": category.name_zh, "en": category.name_en},
        "parent": category.parent,
        "products": _tiles(session, found.product_ids, config),
        "total": found.total,
    }


def product_data(session: Session, sku: str, config: ShopConfig) -> dict[str, Any] | None:
    product = session.scalar(
        select(Product)
        .options(
            selectinload(Product.brand),
            selectinload(Product.category),
            selectinload(Product.attributes),
            selectinload(Product.variants),
        )
        .where(Product.sku == sku)
    )
    if product is None:
        return None
    labels = config.attribute_labels
    specs = [
        {
            "zh": labels[a.key].zh if a.key in labels else a.key,
            "en": labels[a.key].en if a.key in labels else a.key.replace("_", " ").capitalize(),
            "value_zh": a.value_zh,
            "value_en": a.value_en,
        }
        for a in sorted(product.attributes, key=lambda a: a.key)
    ]
    variants = [
        {
            "sku": v.sku,
            "color": " / ".join(filter(None, dict.fromkeys([v.color_zh, v.color_en]))),
            "size": v.size or "",
            "storage": v.storage or "",
            "price": money(v.price),
            "stock": v.stock,
        }
        for v in sorted(product.variants, key=lambda v: v.sku)
    ]
    category = product.category
    return {
        "product": product,
        "tile": _tile(product, config),
        "category": category,
        "parent": category.parent,
        "rating": f"{product.rating:.1f}" if product.rating is not None else None,
        "released": product.release_date.strftime("%Y-%m") if product.release_date else None,
        "specs": specs,
        "variants": variants,
        "has_sizes": any(v["size"] for v in variants),
        "has_storages": any(v["storage"] for v in variants),
    }


def image_data(session: Session, sku: str) -> tuple[str, str, str] | None:
    """The title, brand and category key a product's picture shows; None for an unknown SKU."""
    row = session.execute(
        select(Product.title_zh, Brand.name_zh, Category.key)
        .join(Brand, Product.brand_id == Brand.id)
        .join(Category, Product.category_id == Category.id)
        .where(Product.sku == sku)
    ).first()
    return tuple(row) if row is not None else None


def login_customers(session: Session) -> list[dict[str, Any]]:
    """Demo customers to log in as: the first ones with orders, names masked."""
    orders = func.count(Order.id).label("orders")
    rows = session.execute(
        select(Customer.id, Customer.name, Customer.preferred_language, orders)
        .join(Order, Order.customer_id == Customer.id)
        .where(Customer.erased_at.is_(None))
        .group_by(Customer.id, Customer.name, Customer.preferred_language)
        .order_by(Customer.id)
        .limit(LOGIN_CUSTOMERS)
    ).all()
    return [
        {"id": r.id, "name": mask_name(r.name), "language": r.preferred_language, "orders": r[3]}
        for r in rows
    ]


def customer_name(session: Session, customer_id: int) -> str | None:
    """The masked name of a customer who may log in; None if unknown or erased."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.erased_at is not None:
        return None
    return mask_name(customer.name)


# ---- the web application ----------------------------------------------------------------------


@dataclass
class Site:
    factory: sessionmaker
    bot_url: str
    config: ShopConfig
    templates: jinja2.Environment
    csp: str
    secret: Callable[[], str | None] = current_secret


SITE = web.AppKey("site", Site)
CUSTOMER = "kefu_customer"  # request key: (customer id, masked name) or None
CATEGORIES = "kefu_categories"  # request key: the category menu


async def in_db(request: web.Request, work: Callable[..., T], *args: Any) -> T:
    """``work(session, *args)`` in one transaction, on a worker thread."""
    return await run_in_session(request.app[SITE].factory, work, *args)


async def _customer(request: web.Request) -> tuple[int, str] | None:
    """The logged-in customer of this request, from the signed cookie."""
    secret = request.app[SITE].secret()
    cookie = request.cookies.get(SESSION_COOKIE)
    if not secret or not cookie:
        return None
    customer_id = session_customer(cookie, secret)
    if customer_id is None:
        return None
    name = await in_db(request, customer_name, customer_id)
    return (customer_id, name) if name is not None else None


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """A page from ``template`` with the shop header and the web chat."""
    site = request.app[SITE]
    customer = request.get(CUSTOMER)
    secret = site.secret()
    token = logout = None
    if customer and secret:
        token = issue_token(customer[0], secret, ttl_seconds=TOKEN_SECONDS)
        logout = logout_token(request.cookies.get(SESSION_COOKIE, ""), secret)
    body = site.templates.get_template(template).render(
        shop=site.config.name,
        service=site.config.customer_service,
        bot_url=site.bot_url,
        widget_src=site.bot_url + WIDGET_PATH,
        customer_name=customer[1] if customer else None,
        customer_token=token,
        logout_token=logout,
        categories=request.get(CATEGORIES, []),
        **context,
    )
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store" if customer else "no-cache"
    return response


def _secure(headers, site: Site) -> None:
    headers.setdefault("Content-Security-Policy", site.csp)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")


@web.middleware
async def security_headers(request: web.Request, handler) -> web.StreamResponse:
    """CSP and friends on every response, and the shop's own 404 page."""
    site = request.app[SITE]
    try:
        response = await handler(request)
    except web.HTTPNotFound:
        response = await not_found(request)
    except web.HTTPException as error:  # redirects and refusals are raised, not returned
        _secure(error.headers, site)
        raise
    _secure(response.headers, site)
    return response


@web.middleware
async def shop_context(request: web.Request, handler) -> web.StreamResponse:
    """Who is logged in and the category menu, for every page."""
    if not request.path.startswith(("/static/", "/shop/images/")):
        request[CUSTOMER] = await _customer(request)
        request[CATEGORIES] = await in_db(request, _categories)
    return await handler(request)


async def not_found(request: web.Request) -> web.Response:
    if CUSTOMER not in request:
        request[CUSTOMER] = None
    return render(request, "not_found.html", status=404)


async def home(request: web.Request) -> web.Response:
    site = request.app[SITE]
    return render(request, "home.html", **await in_db(request, home_data, site.config))


async def category_page(request: web.Request) -> web.Response:
    site = request.app[SITE]
    data = await in_db(request, category_data, request.match_info["key"], site.config)
    if data is None:
        raise web.HTTPNotFound()
    return render(request, "category.html", **data)


async def product_page(request: web.Request) -> web.Response:
    site = request.app[SITE]
    data = await in_db(request, product_data, request.match_info["sku"], site.config)
    if data is None:
        raise web.HTTPNotFound()
    return render(request, "product.html", **data)


async def product_image(request: web.Request) -> web.Response:
    data = await in_db(request, image_data, request.match_info["sku"])
    if data is None:
        raise web.HTTPNotFound()
    svg = placeholder_svg(request.match_info["sku"], *data)
    etag = '"' + hashlib.sha256(svg.encode("utf-8")).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": f"public, max-age={IMAGE_MAX_AGE}",
        "ETag": etag,
        # opened on its own, the picture may run nothing and load nothing
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    }
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(text=svg, content_type="image/svg+xml", charset="utf-8", headers=headers)


def _cookie_options(request: web.Request) -> dict[str, Any]:
    return {"httponly": True, "samesite": "Lax", "secure": request.secure, "path": "/"}


async def login_form(request: web.Request) -> web.Response:
    site = request.app[SITE]
    if not site.secret():
        return render(request, "login.html", disabled=True, customers=[])
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    customers = await in_db(request, login_customers)
    response = render(request, "login.html", disabled=False, customers=customers, csrf=csrf)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=3600, **_cookie_options(request))
    return response


async def login(request: web.Request) -> NoReturn:
    site = request.app[SITE]
    secret = site.secret()
    if not secret:
        return render(request, "login.html", status=403, disabled=True, customers=[])
    form = await request.post()
    csrf = request.cookies.get(CSRF_COOKIE, "")
    sent = str(form.get("csrf", ""))
    if not csrf or not hmac.compare_digest(csrf.encode(), sent.encode("utf-8", "replace")):
        raise web.HTTPForbidden(text="the login form has expired: reload the page and try again")
    raw_id = str(form.get("customer_id", ""))
    customer_id = int(raw_id) if _CUSTOMER_ID.fullmatch(raw_id) else None
    listed = {c["id"] for c in await in_db(request, login_customers)}
    if customer_id is None or customer_id not in listed:
        # only the demo accounts on the login page: never a token for any customer id
        logger.warning("demo shop: refused a login as an unlisted customer")
        raise web.HTTPBadRequest(text="unknown customer")
    redirect = web.HTTPSeeOther("/")
    redirect.set_cookie(
        SESSION_COOKIE,
        session_value(customer_id, secret),
        max_age=SESSION_SECONDS,
        **_cookie_options(request),
    )
    redirect.del_cookie(CSRF_COOKIE, path="/")
    logger.info("demo shop: a customer logged in")
    raise redirect


async def logout_form(request: web.Request) -> web.Response:
    if not request.get(CUSTOMER):
        raise web.HTTPSeeOther("/")
    return render(request, "logout.html")


async def logout(request: web.Request) -> NoReturn:
    secret = request.app[SITE].secret()
    session = request.cookies.get(SESSION_COOKIE, "")
    form = await request.post()
    sent = str(form.get("token", ""))
    if session and secret:
        expected = logout_token(session, secret)
        if not hmac.compare_digest(expected.encode(), sent.encode("utf-8", "replace")):
            raise web.HTTPForbidden(text="the logout form has expired: reload the page")
    redirect = web.HTTPSeeOther("/")
    redirect.del_cookie(SESSION_COOKIE, path="/")
    # the web chat keeps its conversation in this site's storage: the next visitor starts afresh
    redirect.headers["Clear-Site-Data"] = '"storage"'
    raise redirect


def create_app(
    factory: sessionmaker,
    bot_url: str | None = None,
    config: ShopConfig | None = None,
    secret: Callable[[], str | None] = current_secret,
) -> web.Application:
    """The demo shop on the database of ``factory``, embedding the web chat of ``bot_url``."""
    url = resolve_bot_url(bot_url)
    app = web.Application(middlewares=[security_headers, shop_context])
    app[SITE] = Site(
        factory=factory,
        bot_url=url,
        config=config or shop_config(),
        templates=html_templates(HERE / "templates"),
        csp=content_security_policy(url),
        secret=secret,
    )
    app.router.add_get("/", home, name="home")
    app.router.add_get("/shop/categories/{key}", category_page, name="category")
    app.router.add_get("/shop/products/{sku}", product_page, name="product")
    app.router.add_get("/shop/images/{sku}.svg", product_image, name="image")
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login)
    app.router.add_get("/logout", logout_form, name="logout")
    app.router.add_post("/logout", logout)
    app.router.add_static("/static/", HERE / "static", name="static")
    return app


class DemoRefused(RuntimeError):
    """The demo shop must not run here (production, or a database that is not the demo's)."""


def check_demo_allowed(factory: sessionmaker, env: Mapping[str, str] | None = None) -> None:
    """Refuse to serve the demo in production or on a database the demo loader did not fill:
    its login hands out signed customer tokens, which must never exist for a real shop."""
    env = os.environ if env is None else env
    if env.get("KEFU_PROFILE") == "production":
        raise DemoRefused("the demo shop does not run with KEFU_PROFILE=production")
    with factory() as session:
        if not is_demo_database(session):
            raise DemoRefused(
                "this shop database was not made by `kefu demo load`; the demo shop (and its "
                "demo login) runs only on the demo's own database"
            )


def serve(
    factory: sessionmaker, host: str = "127.0.0.1", port: int = 8000, bot_url: str | None = None
) -> None:
    """Run the demo shop until Ctrl-C (only on the demo's database, never in production)."""
    check_demo_allowed(factory)
    app = create_app(factory, bot_url)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    login_state = "on" if current_secret() else "off (KEFU_IDENTITY_SECRET is not set)"
    print(
        f"demo shop on http://{host}:{port}/ with the web chat of {app[SITE].bot_url}; "
        f"customer login {login_state}",
        flush=True,
    )
    web.run_app(app, host=host, port=port, access_log_format=ACCESS_LOG_FORMAT, print=None)
