"""Shop configuration from ``shop.yml`` (path overridable with ``KEFU_SHOP_CONFIG``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import yaml

from kefu.language import SUPPORTED_LANGUAGES

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "shop.yml"


class ConfigError(ValueError):
    """The shop configuration file is missing a value or holds a wrong one."""


@dataclass(frozen=True)
class Bilingual:
    """A text that exists in Chinese and English."""

    zh: str
    en: str

    def get(self, language: str | None) -> str:
        """The text in ``language``, Chinese when the language is unknown."""
        return self.en if language == "en" else self.zh


@dataclass(frozen=True)
class CustomerService:
    hotline: str
    email: str
    hours: Bilingual


@dataclass(frozen=True)
class Storefront:
    product_url: str  # template with {sku} and {id}; "" = no link
    image_url: str
    how_to_buy: dict[str, list[str]]  # language → steps

    def link(self, template_field: str, own: str | None, sku: str, product_id: int) -> str | None:
        """The product's own URL, else the configured template filled in, else None."""
        if own:
            return own
        template = getattr(self, template_field)
        return template.format(sku=sku, id=product_id) if template else None


@dataclass(frozen=True)
class Recommendations:
    page_size: int
    rich_channels: tuple[str, ...]
    similarity_refresh_minutes: int = 60


@dataclass(frozen=True)
class IdentityLimits:
    """How many wrong order/phone checks a conversation gets before a pause."""

    max_attempts: int = 3
    lock_minutes: int = 30


@dataclass(frozen=True)
class ChannelLimits:
    """What one customer may send on any channel: message length and rate, and the replies."""

    max_message_chars: int = 1000
    burst: int = 10  # messages sent at once before the rate applies
    per_minute: int = 20  # sustained messages per minute
    too_long: Bilingual = Bilingual(
        "这条消息太长了，请精简到 {limit} 字以内再发一次。",
        "That message is too long; please keep it under {limit} characters.",
    )
    too_fast: Bilingual = Bilingual(
        "您发得有点快，我跟不上了😅 请稍等几秒再发。",
        "You're sending messages faster than I can read them; please wait a few seconds.",
    )


@dataclass(frozen=True)
class AccountHelp:
    """Steps for an account question the bot cannot act on in chat, with the page to do it."""

    link: str
    steps: dict[str, list[str]]  # language → steps, {link} filled in

    def text(self, language: str) -> str:
        """The steps as a numbered list in ``language``."""
        steps = self.steps["en" if language == "en" else "zh"]
        return "\n".join(f"{n}. {step}" for n, step in enumerate(steps, 1))


def _account_help(raw: object, path: Path) -> dict[str, AccountHelp]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: 'account_help' must map intents to steps")
    helps = {}
    for intent, entry in raw.items():
        where = f"account_help.{intent}"
        if not isinstance(entry, dict) or not isinstance(entry.get("link"), str):
            raise ConfigError(f"{path}: '{where}' needs a 'link'")
        steps = {}
        for language in SUPPORTED_LANGUAGES:
            lines = entry.get(language)
            if not isinstance(lines, list) or not lines:
                raise ConfigError(f"{path}: '{where}.{language}' needs a list of steps")
            steps[language] = [str(line).replace("{link}", entry["link"]) for line in lines]
        helps[str(intent)] = AccountHelp(entry["link"], steps)
    return helps


@dataclass(frozen=True)
class ShopConfig:
    name: Bilingual
    default_language: str
    customer_service: CustomerService
    storefront: Storefront
    recommendations: Recommendations
    attribute_labels: dict[str, Bilingual]
    exchange_rates: dict[str, Decimal]  # CNY per unit of another currency ("under $300")
    account_help: dict[str, AccountHelp] = field(default_factory=dict)  # intent → steps
    identity: IdentityLimits = field(default_factory=IdentityLimits)
    channels: ChannelLimits = field(default_factory=ChannelLimits)


def _bilingual(data: object, where: str, path: Path) -> Bilingual:
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("zh", "en")):
        raise ConfigError(f"{path}: '{where}' needs both 'zh' and 'en' texts")
    return Bilingual(zh=data["zh"], en=data["en"])


def _required(data: dict, key: str, where: str, path: Path) -> object:
    if key not in data:
        raise ConfigError(f"{path}: missing '{where}.{key}'")
    return data[key]


def _channel_limits(raw: object, path: Path) -> ChannelLimits:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: 'channels' must be a mapping")
    numbers = {}
    for key in ("max_message_chars", "burst", "per_minute"):
        value = raw.get(key, getattr(ChannelLimits, key))
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{path}: 'channels.{key}' must be a positive whole number")
        numbers[key] = value
    texts = {
        key: _bilingual(raw[key], f"channels.{key}", path)
        for key in ("too_long", "too_fast")
        if key in raw
    }
    return ChannelLimits(**numbers, **texts)


def load_shop_config(path: str | Path | None = None) -> ShopConfig:
    """Read and validate the shop configuration."""
    path = Path(path or os.environ.get("KEFU_SHOP_CONFIG") or DEFAULT_CONFIG_PATH)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise ConfigError(f"{path}: cannot read shop configuration ({error.strerror})") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{line} is not valid YAML") from error

    shop = _required(raw, "shop", "", path)
    service = _required(raw, "customer_service", "", path)
    default_language = shop.get("default_language", "zh")
    if default_language not in SUPPORTED_LANGUAGES:
        raise ConfigError(f"{path}: shop.default_language must be one of {SUPPORTED_LANGUAGES}")
    storefront = raw.get("storefront") or {}
    steps = storefront.get("how_to_buy") or {}
    if not all(isinstance(steps.get(k), list) and steps[k] for k in SUPPORTED_LANGUAGES):
        raise ConfigError(f"{path}: 'storefront.how_to_buy' needs a list of steps in zh and en")
    recommendations = raw.get("recommendations") or {}
    page_size = recommendations.get("page_size", 3)
    if not isinstance(page_size, int) or not 1 <= page_size <= 10:
        raise ConfigError(f"{path}: 'recommendations.page_size' must be a number from 1 to 10")
    labels = raw.get("attribute_labels") or {}
    identity = raw.get("identity") or {}
    limits = IdentityLimits(
        **{k: identity[k] for k in ("max_attempts", "lock_minutes") if k in identity}
    )
    if not all(isinstance(v, int) and v > 0 for v in (limits.max_attempts, limits.lock_minutes)):
        raise ConfigError(f"{path}: 'identity.max_attempts' and 'lock_minutes' must be positive")
    return ShopConfig(
        identity=limits,
        channels=_channel_limits(raw.get("channels") or {}, path),
        account_help=_account_help(raw.get("account_help") or {}, path),
        storefront=Storefront(
            product_url=str(storefront.get("product_url") or ""),
            image_url=str(storefront.get("image_url") or ""),
            how_to_buy={k: [str(step) for step in steps[k]] for k in SUPPORTED_LANGUAGES},
        ),
        recommendations=Recommendations(
            page_size=page_size,
            rich_channels=tuple(recommendations.get("rich_channels") or ()),
            similarity_refresh_minutes=int(recommendations.get("similarity_refresh_minutes", 60)),
        ),
        exchange_rates={
            str(code).upper(): Decimal(str(rate))
            for code, rate in (recommendations.get("exchange_rates") or {}).items()
        },
        attribute_labels={
            str(key): _bilingual(value, f"attribute_labels.{key}", path)
            for key, value in labels.items()
        },
        name=_bilingual(_required(shop, "name", "shop", path), "shop.name", path),
        default_language=default_language,
        customer_service=CustomerService(
            hotline=str(_required(service, "hotline", "customer_service", path)),
            email=str(_required(service, "email", "customer_service", path)),
            hours=_bilingual(
                _required(service, "hours", "customer_service", path),
                "customer_service.hours",
                path,
            ),
        ),
    )


@lru_cache(maxsize=1)
def shop_config() -> ShopConfig:
    """The process-wide shop configuration, read once."""
    return load_shop_config()
