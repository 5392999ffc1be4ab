"""The review screen of the agent console: the messages the bot may have misunderstood
(:mod:`kefu.review`), and a form where a signed-in agent confirms or corrects the intent (one of
the domain's) and the entities (words of the message), or discards the message.

``GET /review`` lists the queue (``?status=`` pending by default), ``GET /review/{id}`` shows one
message with its form, ``POST /review/{id}`` stores the annotation and opens the next pending
message, ``POST /review/{id}/discard`` discards it.  Texts are stored masked; nothing here shows
more than the queue holds.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from kefu.console.base import AGENT, CONSOLE, in_db, message_page, render
from kefu.handoff_text import TOPICS
from kefu.models import REVIEW_STATUSES, ReviewItem
from kefu.review import queue
from kefu.review.nlu_files import Domain, load_domain
from kefu.review.settings import ROOT

logger = logging.getLogger("kefu.agent_console")

REVIEW_DOMAIN = web.AppKey("review_domain", Domain)
PAGE_SIZE = 50
EMPTY_ENTITY_ROWS = 2
MAX_ENTITY_ROWS = queue.MAX_ENTITIES
REASONS = {
    "fallback": "没听懂 · not understood",
    "low_confidence": "没把握 · unsure",
    "handoff": "转人工 · hand-off",
    "negative_sentiment": "客户不满 · negative",
    "bad_rating": "差评 · bad rating",
}
STATUSES = {
    "pending": "待复核 · pending",
    "annotated": "已标注 · annotated",
    "discarded": "已丢弃 · discarded",
    "exported": "已导出 · exported",
}


def intent_label(intent: str | None) -> str:
    """ "recover_password · 找回密码" for intents with a Chinese topic name."""
    if not intent:
        return "—"
    topic = TOPICS.get(intent)
    return f"{intent} · {topic[0]}" if topic else intent


def item_row(item: ReviewItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "href": f"/review/{item.id}",
        "text": item.text,
        "language": item.language,
        "status": item.status,
        "status_text": STATUSES.get(item.status, item.status),
        "reasons": [REASONS.get(r, r) for r in item.reasons],
        "seen": item.seen,
        "predicted": intent_label(item.predicted_intent),
        "confidence": "" if item.confidence is None else f"{item.confidence:.2f}",
        "intent": intent_label(item.intent) if item.intent else "",
        "note": item.export_note or "",
    }


def _status(request: web.Request) -> str:
    value = request.query.get("status", queue.PENDING)
    return value if value in REVIEW_STATUSES else queue.PENDING


def list_data(session: Session, status: str) -> dict[str, Any]:
    return {
        "items": [item_row(item) for item in queue.items(session, status, limit=PAGE_SIZE)],
        "counts": queue.counts(session),
        "current": status,
        "statuses": STATUSES,
    }


async def review_list(request: web.Request) -> web.Response:
    data = await in_db(request, list_data, _status(request))
    saved = request.query.get("saved", "")
    return render(request, "review.html", saved=saved if saved.isdigit() else "", **data)


def _item_id(request: web.Request) -> int:
    return int(request.match_info["id"])


def item_data(session: Session, item_id: int) -> dict[str, Any] | None:
    try:
        item = queue.item(session, item_id)
    except queue.ItemNotFound:
        return None
    entities = list(item.entities or item.predicted_entities or [])
    return {
        "item": item_row(item),
        "chosen": item.intent or item.predicted_intent or "",
        "entities": entities + [{"entity": "", "text": ""}] * EMPTY_ENTITY_ROWS,
    }


def _form(request: web.Request, data: dict[str, Any], **extra: Any) -> web.Response:
    domain = request.app[REVIEW_DOMAIN]
    return render(
        request,
        "review_item.html",
        status=extra.pop("status", 200),
        intents=[(i, intent_label(i)) for i in domain.intents],
        entity_names=domain.entities,
        error=extra.pop("error", ""),
        **data,
        **extra,
    )


async def review_item(request: web.Request) -> web.Response:
    data = await in_db(request, item_data, _item_id(request))
    if data is None:
        raise web.HTTPNotFound()
    saved = request.query.get("saved", "")
    return _form(request, data, saved=saved if saved.isdigit() else "")


def _next_pending(session: Session, after: int) -> int | None:
    following = [
        i.id for i in queue.items(session, queue.PENDING, limit=PAGE_SIZE) if i.id != after
    ]
    return following[0] if following else None


def _annotate(session: Session, item_id: int, annotation: dict[str, Any]) -> int | None:
    """Store ``annotation`` (intent, entities, agent, domain, now); the next pending item."""
    domain = annotation["domain"]
    queue.annotate(
        session,
        item_id,
        annotation["intent"],
        annotation["entities"],
        annotation["agent"],
        domain.intents,
        domain.entities,
        annotation["now"],
    )
    return _next_pending(session, item_id)


async def annotate_item(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    item_id = _item_id(request)
    names = [str(v) for v in form.getall("entity", [])][:MAX_ENTITY_ROWS]
    words = [str(v) for v in form.getall("words", [])][:MAX_ENTITY_ROWS]
    entities = [
        {"entity": n.strip(), "text": w.strip()} for n, w in zip(names, words, strict=False)
    ]
    intent = str(form.get("intent", "")).strip()
    console = request.app[CONSOLE]
    try:
        annotation = {
            "intent": intent,
            "entities": entities,
            "agent": request[AGENT],
            "domain": request.app[REVIEW_DOMAIN],
            "now": console.now(),
        }
        following = await in_db(request, _annotate, item_id, annotation)
    except queue.ItemNotFound:
        raise web.HTTPNotFound() from None
    except queue.ReviewError as error:
        data = await in_db(request, item_data, item_id)
        data["chosen"] = intent
        data["entities"] = entities + [{"entity": "", "text": ""}] * EMPTY_ENTITY_ROWS
        return _form(request, data, status=400, error=f"未保存 · Not saved: {error}", saved="")
    logger.info("review: item %s annotated by an agent", item_id)
    target = f"/review/{following}?saved={item_id}" if following else f"/review?saved={item_id}"
    raise web.HTTPSeeOther(target)


async def discard_item(request: web.Request) -> web.StreamResponse:
    item_id = _item_id(request)
    console = request.app[CONSOLE]
    try:
        await in_db(request, queue.discard, item_id, request[AGENT], console.now())
    except queue.ItemNotFound:
        return message_page(request, 404, "找不到 · Not found", "没有这条消息。 · No such message.")
    raise web.HTTPSeeOther(f"/review?saved={item_id}")


def add_review_routes(app: web.Application, domain_path: Path | None = None) -> None:
    """The review screen's routes; intents and entities from ``domain_path`` (domain.yml)."""
    app[REVIEW_DOMAIN] = load_domain(domain_path or ROOT / "domain.yml")
    item = r"/review/{id:[1-9][0-9]{0,8}}"
    app.router.add_get("/review", review_list, name="review")
    app.router.add_get(item, review_item, name="review_item")
    app.router.add_post(item, annotate_item, name="review_annotate")
    app.router.add_post(item + "/discard", discard_item, name="review_discard")
