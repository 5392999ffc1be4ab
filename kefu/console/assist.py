"""Agent assist in the console: ``/tickets/{id}/assist.json`` gives the ticket's summary and
suggested replies (:func:`kefu.assist.assist`), for the agent to insert, edit and send; nothing
is sent from here.  The knowledge index is the console's own (:data:`KNOWLEDGE`), built on the
first request or warmed up in the background by ``serve``."""

from __future__ import annotations

import asyncio
import logging
import threading

from aiohttp import web

from kefu.assist import assist
from kefu.console.base import in_db
from kefu.console.tickets import _live, _ticket_data
from kefu.handoff import TicketView
from kefu.knowledge.index import KnowledgeBase

logger = logging.getLogger("kefu.agent_console")

KNOWLEDGE = web.AppKey("agent_assist_knowledge", KnowledgeBase)
UNAVAILABLE = "暂时无法生成建议。 · Suggestions are not available right now."


async def assist_json(request: web.Request) -> web.Response:
    """The summary and suggestions of a ticket the agent may see (403 otherwise)."""
    data = await _ticket_data(request, polling=True)
    if "refused" in data:
        return web.json_response({"error": "forbidden", "message": data["refused"]}, status=403)
    view: TicketView = data["ticket"]
    live = await _live(request, view)
    knowledge = request.app[KNOWLEDGE]
    try:
        await asyncio.to_thread(knowledge.index)  # a build holds no database connection
        result = await in_db(request, assist, view, live["messages"], knowledge)
    except Exception:  # the shop's knowledge cannot be read: the console works on without it
        logger.exception("agent console: no assist for ticket %s", view.id)
        return web.json_response({"error": "unavailable", "message": UNAVAILABLE}, status=503)
    logger.info("agent console: assist for ticket %s in %.2f s", view.id, result.seconds)
    return web.json_response(result.to_dict())


def warm_up(knowledge: KnowledgeBase) -> threading.Thread:
    """Build the knowledge index in the background, so the first ticket gets its suggestions
    without waiting for it."""

    def build() -> None:
        try:
            knowledge.index()
        except Exception:
            logger.exception("agent console: the knowledge index could not be built")

    thread = threading.Thread(target=build, name="assist-warm-up", daemon=True)
    thread.start()
    return thread
