"""Shop configuration from ``shop.yml`` (path overridable with ``KEFU_SHOP_CONFIG``)."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    """Proofs and consent (kefu.attempts, kefu.step_up): wrong order/phone checks per order and
    per customer within ``window_minutes`` before a ``lock_minutes`` pause; how long a proven
    order stays open (``verified_minutes``); how long a confirmation code and a previewed change
    stay valid (``code_minutes``, ``consent_minutes``); codes sent per order per window."""

    max_attempts: int = 3
    lock_minutes: int = 30
    window_minutes: int = 60
    verified_minutes: int = 30
    code_minutes: int = 10
    consent_minutes: int = 10
    codes_per_window: int = 5


# Button payloads customers may send (intent → the entity keys it may carry): what the bot's
# own buttons and the web chat's language switch send.  Any other text starting with "/"
# (/restart, /back, /session_start, another intent) reaches the bot without the slash.
DEFAULT_BUTTON_PAYLOADS: dict[str, tuple[str, ...]] = {
    "affirm": (),
    "deny": (),
    "no_preference": (),
    "contact_human_agent": (),
    "switch_language": ("language",),
    "inform": ("order_id", "position", "product_category", "return_reason"),
    "product_info": ("position",),
    "compare_products": ("position",),
    "check_stock": ("position",),
    "rate_satisfaction": ("rating",),
}


@dataclass(frozen=True)
class ChannelLimits:
    """What customers may send on any channel: message length, metadata, button payloads and
    rates (per conversation, per client address, new conversations per address, per channel
    and in all), and the replies.  ``KEFU_LIMIT_SCALE`` multiplies every rate but the
    per-conversation one (kefu.ratelimit); ``trusted_proxies`` (or ``KEFU_TRUSTED_PROXIES``)
    are the reverse proxies whose X-Forwarded-For is believed."""

    max_message_chars: int = 1000
    burst: int = 10  # messages sent at once before the rate applies
    per_minute: int = 20  # sustained messages per minute
    address_burst: int = 30  # per client address (REST and web chat)
    address_per_minute: int = 60
    new_conversations_burst: int = 20  # conversations a client address starts ...
    new_conversations_per_hour: int = 60  # ... then this many per hour
    channel_burst: int = 300  # everything on one channel
    channel_per_minute: int = 1200
    global_burst: int = 600  # everything the bot receives
    global_per_minute: int = 2400
    max_metadata_chars: int = 4096  # a metadata value longer than this is dropped
    trusted_proxies: tuple[str, ...] = ()
    button_payloads: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_BUTTON_PAYLOADS)
    )
    too_long: Bilingual = Bilingual(
        "这条消息太长了，请精简到 {limit} 字以内再发一次。",
        "That message is too long; please keep it under {limit} characters.",
    )
    too_fast: Bilingual = Bilingual(
        "您发得有点快，我跟不上了😅 请稍等几秒再发。",
        "You're sending messages faster than I can read them; please wait a few seconds.",
    )
    too_busy: Bilingual = Bilingual(
        "现在咨询的人比较多，请稍等一会儿再发。",
        "Lots of customers are writing right now; please try again in a moment.",
    )


# ---- hand-off and agent console limits (kefu.handoff, kefu.console)


@dataclass(frozen=True)
class TicketLimits:
    """Hand-off tickets opened per hour: per client (its address when the channel knows it,
    else the customer or the conversation), per channel and in all.  Over a limit the customer
    gets ``busy`` ({minutes}, {hotline}, {hours} and {email} filled in) and no ticket."""

    per_client_per_hour: int = 5
    per_channel_per_hour: int = 300
    per_hour: int = 600
    busy: Bilingual = Bilingual(
        "现在找人工客服的人很多，暂时无法为您排队 🙏 请 {minutes} 分钟后再试，或拨打客服热线 "
        "{hotline}（{hours}），也可以发邮件到 {email}。",
        "Our team is very busy right now and I can't add you to the queue 🙏 Please try again "
        "in {minutes} minutes, call {hotline} ({hours}) or e-mail {email}.",
    )


@dataclass(frozen=True)
class ConsoleSecurity:
    """The agent console's protections (``kefu agent serve``): which proxies' X-Forwarded-For
    is believed, the ``Secure`` cookie flag (None: on with KEFU_PROFILE=production, else when
    the request came over HTTPS), the queue's page size, the login lockout (failures within
    ``login_window_minutes`` per client address, per agent from one address, and the number
    of failing addresses that lock an agent everywhere) and how often a polling agent's reads
    are written to the audit log."""

    trusted_proxies: tuple[str, ...] = ()  # IP addresses or CIDR networks
    secure_cookies: bool | None = None
    queue_page_size: int = 20
    login_window_minutes: int = 15
    login_failures_per_address: int = 20
    login_failures_per_account: int = 5
    login_account_addresses: int = 10
    audit_read_minutes: int = 10


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
_HOURS = re.compile(r"\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*")


@dataclass(frozen=True)
class HandoffSettings:
    """When people answer hand-offs (office hours in the shop's time zone) and when the bot
    hands a conversation over.

    ``office_hours`` maps a weekday (``mon`` … ``sun``) to the minutes after that day's midnight
    at which agents start and stop, ``[start, end)``; a day not listed (or ``closed`` in
    shop.yml) is closed.  An end
    before the start ("20:00-02:00") runs past midnight, stored as an end above 1440.
    """

    timezone: str = "Asia/Shanghai"
    office_hours: dict[str, tuple[int, int]] = field(
        default_factory=lambda: {day: (9 * 60, 21 * 60) for day in WEEKDAYS}
    )
    fallbacks_before_handoff: int = 2  # "I did not understand" this often, then a person
    complaint_sentiment: float = -0.5  # a complaint at or below this is handed over at once
    pause_bot: bool = True  # the bot stays quiet while a person has the conversation
    customer_gone_minutes: int = 60  # silent this long while waiting: the customer has left
    limits: TicketLimits = field(default_factory=TicketLimits)  # tickets opened per hour

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, now: datetime) -> datetime:
        """``now`` in the shop's time zone; a naive ``now`` is UTC, as the shop stores times."""
        aware = now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)
        return aware.astimezone(self.zone)

    def _spans(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open period that starts on ``day`` (shop time), if any, as aware datetimes.
        Office hours are wall-clock times: "09:00" is 09:00 on a daylight-saving day too."""
        hours = self.office_hours.get(WEEKDAYS[day.weekday()])
        if hours is None:
            return []
        midnight = datetime.combine(day, time.min)
        start, end = ((midnight + timedelta(minutes=m)).replace(tzinfo=self.zone) for m in hours)
        return [(start, end)]

    def is_open(self, now: datetime) -> bool:
        """Whether agents are working at ``now``."""
        local = self.local(now)
        for day in (local.date() - timedelta(days=1), local.date()):
            if any(start <= local < end for start, end in self._spans(day)):
                return True
        return False

    def next_opening(self, now: datetime) -> datetime:
        """When agents are next at work, in the shop's time zone: ``now`` itself while open."""
        local = self.local(now)
        if self.is_open(local):
            return local
        for offset in range(8):
            for start, _ in self._spans(local.date() + timedelta(days=offset)):
                if start > local:
                    return start
        raise ValueError("the office hours have no open day")  # prevented by the loader


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
class PrivacySettings:
    """How long conversations are kept (``kefu privacy retention`` deletes older ones)."""

    retention_days: int = 180


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
    handoff: HandoffSettings = field(default_factory=HandoffSettings)
    console: ConsoleSecurity = field(default_factory=ConsoleSecurity)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)


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
    for key in (
        "max_message_chars",
        "burst",
        "per_minute",
        "address_burst",
        "address_per_minute",
        "new_conversations_burst",
        "new_conversations_per_hour",
        "channel_burst",
        "channel_per_minute",
        "global_burst",
        "global_per_minute",
        "max_metadata_chars",
    ):
        value = raw.get(key, getattr(ChannelLimits, key))
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{path}: 'channels.{key}' must be a positive whole number")
        numbers[key] = value
    texts = {
        key: _bilingual(raw[key], f"channels.{key}", path)
        for key in ("too_long", "too_fast", "too_busy")
        if key in raw
    }
    proxies = raw.get("trusted_proxies") or []
    if isinstance(proxies, str):
        proxies = proxies.replace(",", " ").split()
    if not isinstance(proxies, list):
        raise ConfigError(f"{path}: 'channels.trusted_proxies' must be a list of IPs or CIDRs")
    for proxy in proxies:
        try:
            ipaddress.ip_network(str(proxy), strict=False)
        except ValueError:
            raise ConfigError(
                f"{path}: 'channels.trusted_proxies' has {proxy!r}, not an IP address or network"
            ) from None
    payloads = raw.get("button_payloads", DEFAULT_BUTTON_PAYLOADS)
    if not isinstance(payloads, dict) or not all(
        isinstance(intent, str)
        and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", intent)
        and isinstance(keys, (list, tuple))
        and all(isinstance(key, str) for key in keys)
        for intent, keys in payloads.items()
    ):
        raise ConfigError(
            f"{path}: 'channels.button_payloads' must map intent names to lists of entity names"
        )
    return ChannelLimits(
        **numbers,
        **texts,
        trusted_proxies=tuple(str(proxy) for proxy in proxies),
        button_payloads={intent: tuple(keys) for intent, keys in payloads.items()},
    )


def _office_hours(raw: object, path: Path) -> dict[str, tuple[int, int]]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: 'handoff.office_hours' must map weekdays (mon..sun) to hours")
    hours = {}
    for day, value in raw.items():
        where = f"handoff.office_hours.{day}"
        if day not in WEEKDAYS:
            raise ConfigError(f"{path}: '{where}' is not a weekday (one of {', '.join(WEEKDAYS)})")
        if value is None or value == "closed":
            continue
        match = _HOURS.fullmatch(value) if isinstance(value, str) else None
        if not match:
            raise ConfigError(f'{path}: \'{where}\' must be "HH:MM-HH:MM", e.g. "09:00-21:00"')
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise ConfigError(f"{path}: '{where}' has a time that does not exist ({value})")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end == start:
            raise ConfigError(f"{path}: '{where}' opens and closes at the same time ({value})")
        hours[day] = (start, end if end > start else end + MINUTES_PER_DAY)
    if not hours:
        raise ConfigError(f"{path}: 'handoff.office_hours' needs at least one open day")
    return hours


def _handoff(raw: object, path: Path) -> HandoffSettings:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: 'handoff' must be a mapping")
    settings = HandoffSettings()
    zone = raw.get("timezone", settings.timezone)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, TypeError, ValueError):
        raise ConfigError(
            f"{path}: 'handoff.timezone' must be a time zone name such as Asia/Shanghai, "
            f"not {zone!r}"
        ) from None
    fallbacks = raw.get("fallbacks_before_handoff", settings.fallbacks_before_handoff)
    if isinstance(fallbacks, bool) or not isinstance(fallbacks, int) or fallbacks < 1:
        raise ConfigError(f"{path}: 'handoff.fallbacks_before_handoff' must be a positive number")
    threshold = raw.get("complaint_sentiment", settings.complaint_sentiment)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise ConfigError(f"{path}: 'handoff.complaint_sentiment' must be a number from -1 to 0")
    if not -1 <= threshold <= 0:
        raise ConfigError(f"{path}: 'handoff.complaint_sentiment' must be a number from -1 to 0")
    office_hours = (
        _office_hours(raw["office_hours"], path) if "office_hours" in raw else settings.office_hours
    )
    pause_bot = raw.get("pause_bot", settings.pause_bot)
    if not isinstance(pause_bot, bool):
        raise ConfigError(f"{path}: 'handoff.pause_bot' must be true or false")
    gone = raw.get("customer_gone_minutes", settings.customer_gone_minutes)
    if isinstance(gone, bool) or not isinstance(gone, int) or gone < 1:
        raise ConfigError(f"{path}: 'handoff.customer_gone_minutes' must be a positive number")
    return HandoffSettings(
        timezone=zone,
        office_hours=office_hours,
        fallbacks_before_handoff=fallbacks,
        complaint_sentiment=float(threshold),
        pause_bot=pause_bot,
        customer_gone_minutes=gone,
        limits=_ticket_limits(raw.get("limits") or {}, path),
    )


def _positive(raw: dict, key: str, default: int, where: str, path: Path) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{path}: '{where}.{key}' must be a positive whole number")
    return value


def _ticket_limits(raw: object, path: Path) -> TicketLimits:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: 'handoff.limits' must be a mapping")
    numbers = {
        key: _positive(raw, key, getattr(TicketLimits, key), "handoff.limits", path)
        for key in ("per_client_per_hour", "per_channel_per_hour", "per_hour")
    }
    if "busy" not in raw:
        return TicketLimits(**numbers)
    busy = _bilingual(raw["busy"], "handoff.limits.busy", path)
    for text in (busy.zh, busy.en):
        try:
            text.format(minutes=1, hotline="", hours="", email="", shop_name="")
        except (KeyError, IndexError, ValueError):
            raise ConfigError(
                f"{path}: 'handoff.limits.busy' may use only {{minutes}}, {{hotline}}, "
                "{hours}, {email} and {shop_name}"
            ) from None
    return TicketLimits(**numbers, busy=busy)


def _console(raw: object, path: Path) -> ConsoleSecurity:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: 'console' must be a mapping")
    proxies = raw.get("trusted_proxies") or []
    if isinstance(proxies, str):
        proxies = proxies.replace(",", " ").split()
    if not isinstance(proxies, list):
        raise ConfigError(f"{path}: 'console.trusted_proxies' must be a list of IPs or CIDRs")
    for proxy in proxies:
        try:
            ipaddress.ip_network(str(proxy), strict=False)
        except ValueError:
            raise ConfigError(
                f"{path}: 'console.trusted_proxies' has {proxy!r}, not an IP address or network"
            ) from None
    secure = raw.get("secure_cookies", "auto")
    if secure not in (True, False, "auto", None):
        raise ConfigError(f"{path}: 'console.secure_cookies' must be true, false or auto")
    numbers = {
        key: _positive(raw, key, getattr(ConsoleSecurity, key), "console", path)
        for key in (
            "queue_page_size",
            "login_window_minutes",
            "login_failures_per_address",
            "login_failures_per_account",
            "login_account_addresses",
            "audit_read_minutes",
        )
    }
    if numbers["queue_page_size"] > 200:
        raise ConfigError(f"{path}: 'console.queue_page_size' must be at most 200")
    return ConsoleSecurity(
        trusted_proxies=tuple(str(proxy) for proxy in proxies),
        secure_cookies=secure if isinstance(secure, bool) else None,
        **numbers,
    )


def _privacy(raw: object, path: Path) -> PrivacySettings:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: 'privacy' must be a mapping")
    unknown = set(raw) - set(PrivacySettings.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{path}: unknown setting 'privacy.{sorted(unknown)[0]}'")
    default = PrivacySettings.retention_days
    return PrivacySettings(_positive(raw, "retention_days", default, "privacy", path))


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
    names = tuple(IdentityLimits.__dataclass_fields__)
    for key in identity:
        if key not in names:
            raise ConfigError(f"{path}: unknown setting 'identity.{key}' (known: {names})")
        value = identity[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{path}: 'identity.{key}' must be a positive whole number")
    limits = IdentityLimits(**identity)
    return ShopConfig(
        identity=limits,
        channels=_channel_limits(raw.get("channels") or {}, path),
        handoff=_handoff(raw.get("handoff") or {}, path),
        console=_console(raw.get("console") or {}, path),
        privacy=_privacy(raw.get("privacy") or {}, path),
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
