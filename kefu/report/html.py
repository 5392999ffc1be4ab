"""The report as one self-contained HTML page (Jinja2, autoescaped; charts as SVG images)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from kefu.report import charts
from kefu.report.metrics import HANDOFF_REASONS, Report

TEMPLATES = Path(__file__).resolve().parent / "templates"

REASON_NAMES = {
    "requested": "客户要求 requested",
    "fallbacks": "多次未理解 repeated fallbacks",
    "complaint": "投诉 complaint",
    "frustration": "情绪不满 frustration",
}
STATUS_NAMES = {
    "open": "待处理 open",
    "claimed": "处理中 claimed",
    "closed": "已关闭 closed",
    "abandoned": "已放弃 abandoned",
}
LANGUAGE_NAMES = {"zh": "中文 Chinese", "en": "English 英文", "other": "其他 other"}
ESTIMATE_NAMES = {
    "negative": "负面 negative",
    "neutral": "中性 neutral",
    "positive": "正面 positive",
}


def percent(value: float | None, digits: int = 1) -> str:
    """0.1234 → "12.3%"; None → "—"."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def number(value: float | None, digits: int = 2) -> str:
    """A figure with at most ``digits`` decimals; None → "—"."""
    if value is None:
        return "—"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["percent"] = percent
    environment.filters["number"] = number
    return environment


def _chart_images(data: dict[str, Any]) -> dict[str, str]:
    """Every chart of the page as a ``data:`` URI."""
    uri = charts.data_uri
    per_day = [(d["date"][5:], d["conversations"]) for d in data["per_day"]]
    handoff = data["handoff"]
    reasons = [
        (REASON_NAMES.get(r["key"], r["key"]), r["count"])
        for r in handoff["reasons"]
        if r["count"] or r["key"] in HANDOFF_REASONS
    ]
    csat = data["csat"]
    estimate = data["estimated_satisfaction"]
    demand = data["demand"]
    return {
        "per_day": uri(charts.column_chart(per_day, "每日会话 Conversations per day", width=720)),
        "channels": uri(
            charts.pie_chart(
                [(c["key"], c["count"]) for c in data["volume"]["by_channel"]],
                "渠道 Channels",
            )
        ),
        "languages": uri(
            charts.pie_chart(
                [
                    (LANGUAGE_NAMES.get(c["key"], c["key"]), c["count"])
                    for c in data["volume"]["by_language"]
                ],
                "语言 Languages",
            )
        ),
        "reasons": uri(charts.pie_chart(reasons, "转人工原因 Hand-off reasons")),
        "csat": uri(
            charts.histogram(
                [(f"{k}★", v) for k, v in csat["distribution"].items()],
                "评分分布 Rating distribution",
            )
        ),
        "estimate": uri(
            charts.histogram(
                [(ESTIMATE_NAMES[k], v) for k, v in estimate["distribution"].items()],
                "估计情绪 Estimated sentiment",
                width=420,
            )
        ),
        "intents": uri(
            charts.bar_chart([(i["key"], i["count"]) for i in data["intents"]], "意图 Intents")
        ),
        "categories": uri(
            charts.bar_chart(
                [(c["label"] or c["key"], c["count"]) for c in demand["categories"]],
                "品类 Categories",
            )
        ),
        "brands": uri(
            charts.bar_chart(
                [(c["label"] or c["key"], c["count"]) for c in demand["brands"]], "品牌 Brands"
            )
        ),
        "price_bands": uri(
            charts.histogram(
                [(b["key"], b["count"]) for b in demand["price_bands"]],
                "价格区间 Price bands (CNY)",
                width=420,
            )
        ),
    }


def render(report: Report) -> str:
    """The report page: the same figures as ``report.to_dict()``."""
    data = report.to_dict()
    template = _environment().get_template("report.html")
    return template.render(
        report=data,
        charts=_chart_images(data) if data["has_data"] else {},
        reason_names=REASON_NAMES,
        status_names=STATUS_NAMES,
        language_names=LANGUAGE_NAMES,
        estimate_names=ESTIMATE_NAMES,
    )
