"""The queue and the tickets: what an agent may see and do.

An agent sees the tickets waiting in the queue (open, unclaimed) and their own; the queue comes
a page at a time (``console.queue_page_size``) without the tickets' messages.  Opening another
agent's ticket is refused (403, and a ``denied`` row in the audit log); every read of a ticket
(the page, and the live conversation at most once per ``console.audit_read_minutes``), claim,
reply and close is written to the audit log with the agent, the ticket, the conversation and
the time (UTC).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from kefu import handoff
from kefu.config import HandoffSettings
from kefu.console import guard
from kefu.console.base import (
    AGENT,
    CLIENT,
    CONSOLE,
    in_db,
    render,
    transaction,
)
from kefu.console.rasa import RasaError
from kefu.console.views import last_customer_message_at, live_messages, queue_data, ticket_data
from kefu.handoff import TicketClosed, TicketNotFound, TicketTaken, TicketView

logger = logging.getLogger("kefu.agent_console")

SWEEP_INTERVAL_SECONDS = 60.0  # how often the queue looks for customers who left
MAX_SWEPT = 20  # tickets looked at per sweep (one call to Rasa each)
MAX_PAGE = 100_000
HANDOFF_SLOT = "handoff_ticket"  # the domain slot holding the conversation's ticket id
# what the bot says when the agent closes the ticket, in the ticket's language
BOT_IS_BACK = {
    "zh": "人工客服已离开对话，我回来啦！有什么问题都可以继续问我。",
    "en": "The agent has left the chat — I'm back. Ask me anything!",
}


# ---- the queue --------------------------------------------------------------------------------


async def sweep_departed(request: web.Request) -> None:
    """Abandon the tickets whose customer has been silent for ``customer_gone_minutes`` (their
    conversation's session is over; the bot starts a new one when they come back).  Runs at
    most once a minute and looks at no more than :data:`MAX_SWEPT` tickets, the next ones the
    time after; a ticket whose conversation Rasa cannot show is left as it is."""
    console = request.app[CONSOLE]
    started = time.monotonic()
    if started - console.last_sweep < SWEEP_INTERVAL_SECONDS:
        return
    console.last_sweep = started
    cutoff = handoff.stored_time(console.now()) - timedelta(
        minutes=console.handoff.customer_gone_minutes
    )
    views = await in_db(
        request, handoff.waiting_since_before, cutoff, console.sweep_after, MAX_SWEPT
    )
    console.sweep_after = views[-1].id if len(views) == MAX_SWEPT else 0
    for view in views:
        try:
            state = await console.rasa.tracker(view.conversation_id)
        except RasaError:
            continue
        last = last_customer_message_at(state.get("events"))
        if last is None or last < cutoff.replace(tzinfo=timezone.utc).timestamp():
            await in_db(request, handoff.abandon, view.id)
            logger.info("agent console: ticket %s abandoned, the customer left", view.id)


def _page_number(request: web.Request) -> int:
    value = request.query.get("page", "1")
    return min(int(value), MAX_PAGE) if value.isdigit() and int(value) > 0 else 1


async def _queue(request: web.Request) -> dict[str, Any]:
    console = request.app[CONSOLE]
    await sweep_departed(request)
    return await in_db(
        request,
        queue_data,
        request[AGENT],
        _page_number(request),
        console.settings.security.queue_page_size,
        handoff.stored_time(console.now()),
        console.handoff,
    )


async def queue_page(request: web.Request) -> web.Response:
    return render(request, "tickets.html", **(await _queue(request)))


async def queue_json(request: web.Request) -> web.Response:
    return web.json_response(await _queue(request))


# ---- one ticket -------------------------------------------------------------------------------


def _ticket_id(request: web.Request) -> int:
    return int(request.match_info["id"])


def taken_text(agent: str | None) -> str:
    return f"这个工单已被 {agent} 认领。 · Already taken by {agent}."


def closed_text(view_status: str) -> str:
    return (
        f"这个工单已{'关闭' if view_status == handoff.CLOSED else '结束（客户已离开）'}，"
        "不能再回复。 · This ticket is "
        f"{'closed' if view_status == handoff.CLOSED else 'over (the customer left)'}: "
        "it takes no more replies."
    )


def _why_not(view: TicketView) -> str:
    """Why an agent cannot have this ticket, without anything of the customer's."""
    return taken_text(view.agent) if view.active else closed_text(view.status)


def _read(
    session: Session,
    ticket_id: int,
    agent: str,
    now: datetime,
    address: str,
    settings: HandoffSettings,
    again_after: timedelta | None,
) -> dict[str, Any]:
    """The ticket's page data if ``agent`` may see it, the read in the audit log (unless they
    read it within ``again_after``); else ``{"refused": why}`` and a ``denied`` audit row."""
    view = handoff.ticket(session, ticket_id)
    if not handoff.may_see(view, agent):
        guard.audit(
            session,
            agent,
            "denied",
            now,
            ticket_id=ticket_id,
            conversation_id=view.conversation_id,
            address=address,
            unless_within=again_after,
        )
        return {"refused": _why_not(view)}
    data = ticket_data(session, ticket_id, agent, settings)
    guard.audit(
        session,
        agent,
        "read",
        now,
        ticket_id=ticket_id,
        conversation_id=view.conversation_id,
        address=address,
        unless_within=again_after,
    )
    return data


async def _ticket_data(request: web.Request, polling: bool = False) -> dict[str, Any]:
    console = request.app[CONSOLE]
    again_after = (
        timedelta(minutes=console.settings.security.audit_read_minutes) if polling else None
    )
    try:
        return await in_db(
            request,
            _read,
            _ticket_id(request),
            request[AGENT],
            console.now(),
            request[CLIENT],
            console.handoff,
            again_after,
        )
    except TicketNotFound:
        raise web.HTTPNotFound() from None


async def _live(request: web.Request, view: TicketView) -> dict[str, Any]:
    """The live conversation from Rasa, or the error to show instead."""
    console = request.app[CONSOLE]
    try:
        state = await console.rasa.tracker(view.conversation_id)
    except RasaError as error:
        return {"messages": [], "paused": None, "error": str(error)}
    events = state.get("events") if isinstance(state.get("events"), list) else []
    return {
        "messages": live_messages(events, view, console.handoff),
        "paused": bool(state.get("paused")),
        "error": None,
    }


def _refused_page(request: web.Request, status: int, why: str, draft: str = "") -> web.Response:
    logger.info("agent console: agent %s was refused a ticket", request[AGENT])
    return render(
        request,
        "message.html",
        status=status,
        title="不能处理这个工单 · Not your ticket",
        message=why,
        draft=draft,
    )


async def _ticket_page(
    request: web.Request, status: int = 200, error: str = "", notice: str = "", draft: str = ""
) -> web.Response:
    data = await _ticket_data(request)
    if "refused" in data:
        return _refused_page(request, 409 if status == 409 else 403, data["refused"], draft)
    view: TicketView = data["ticket"]
    live = await _live(request, view)
    agent = request[AGENT]
    mine_or_free = view.agent in (None, agent)
    return render(
        request,
        "ticket.html",
        status=status,
        live=live,
        error=error,
        notice=notice,
        draft=draft,
        can_claim=view.status == handoff.OPEN,
        can_reply=view.active and mine_or_free,
        can_close=view.active and mine_or_free,
        max_text=handoff.MAX_TEXT_CHARS,
        **data,
    )


async def ticket_page(request: web.Request) -> web.Response:
    notices = {
        "claimed": "已认领，客户等您回复。 · Claimed: the customer is waiting for you.",
        "sent": "已发送。 · Sent.",
        "closed": "已关闭工单，机器人已恢复。 · Closed: the bot is back in the conversation.",
    }
    return await _ticket_page(request, notice=notices.get(request.query.get("done", ""), ""))


async def ticket_live_json(request: web.Request) -> web.Response:
    data = await _ticket_data(request, polling=True)
    if "refused" in data:
        return web.json_response({"error": "forbidden", "message": data["refused"]}, status=403)
    view: TicketView = data["ticket"]
    live = await _live(request, view)
    return web.json_response(
        {"status": view.status, "agent": view.agent, "row": data["row"], **live}
    )


async def _refusal(request: web.Request, error: Exception, draft: str = "") -> web.Response:
    """Why the action was refused (409): the ticket page again when the agent may still see
    the ticket, else only the reason."""
    current = await in_db(request, handoff.ticket, _ticket_id(request))
    if isinstance(error, TicketTaken):
        message = taken_text(current.agent)
    elif isinstance(error, TicketClosed):
        message = closed_text(current.status)
    else:
        message = str(error)
    if not handoff.may_see(current, request[AGENT]):
        return _refused_page(request, 409, message, draft)
    return await _ticket_page(request, status=409, error=message, draft=draft)


def _audited(
    session: Session, view: TicketView, agent: str, action: str, now: datetime, address: str
) -> None:
    guard.audit(
        session,
        agent,
        action,
        now,
        ticket_id=view.id,
        conversation_id=view.conversation_id,
        address=address,
    )


def _claim(session: Session, ticket_id: int, agent: str, now: datetime, address: str) -> None:
    view = handoff.claim(session, ticket_id, agent)
    _audited(session, view, agent, "claim", now, address)


async def claim_ticket(request: web.Request) -> web.Response:
    agent = request[AGENT]
    console = request.app[CONSOLE]
    try:
        await in_db(request, _claim, _ticket_id(request), agent, console.now(), request[CLIENT])
    except TicketNotFound:
        raise web.HTTPNotFound() from None
    except (TicketTaken, TicketClosed) as error:
        return await _refusal(request, error)
    logger.info("agent console: agent %s claimed ticket %s", agent, _ticket_id(request))
    raise web.HTTPSeeOther(f"/tickets/{_ticket_id(request)}?done=claimed")


def _claim_for_reply(session: Session, ticket_id: int, agent: str) -> TicketView:
    """The ticket, claimed by ``agent`` now if nobody had it; TicketTaken / TicketClosed."""
    view = handoff.ticket(session, ticket_id)
    if view.status == handoff.OPEN:
        return handoff.claim(session, ticket_id, agent)
    if not view.active:
        raise TicketClosed(f"hand-off ticket {ticket_id} is {view.status}")
    if view.agent != agent:
        raise TicketTaken(f"hand-off ticket {ticket_id} is claimed by another agent")
    return view


def _too_long_text() -> str:
    return (
        f"回复太长（最多 {handoff.MAX_TEXT_CHARS} 字）。 · The reply is too long "
        f"(at most {handoff.MAX_TEXT_CHARS} characters)."
    )


async def reply(request: web.Request) -> web.Response:
    """Deliver the agent's message through Rasa and store it, both or neither."""
    agent = request[AGENT]
    ticket_id = _ticket_id(request)
    text = str((await request.post()).get("text", "")).strip()
    if not text:
        return await _ticket_page(
            request, 400, error="请先写回复。 · Write a reply first.", draft=text
        )
    if len(text) > handoff.MAX_TEXT_CHARS:
        return await _ticket_page(request, 400, error=_too_long_text(), draft=text)
    console = request.app[CONSOLE]
    try:
        async with transaction(request) as tx:
            view = await tx.run(_claim_for_reply, ticket_id, agent)
            # stored (and the ticket locked against a close) but committed only once delivered
            await tx.run(handoff.add_message, ticket_id, "agent", text, agent)
            await tx.run(_audited, view, agent, "reply", console.now(), request[CLIENT])
            event = {"event": "bot", "text": text, "metadata": {"agent": agent}}
            await console.rasa.append(view.conversation_id, [event])
    except TicketNotFound:
        raise web.HTTPNotFound() from None
    except (TicketTaken, TicketClosed) as error:
        return await _refusal(request, error, draft=text)
    except RasaError as error:
        return await _ticket_page(
            request,
            502,
            error=f"{error} "
            + (
                "回复没有保存，客户可能已经收到。 · The reply was not saved and may have reached "
                "the customer."
                if error.kind == "timeout"
                else "回复没有发出，也没有保存。 · The reply was not saved and did not reach the "
                "customer."
            ),
            draft=text,
        )
    logger.info("agent console: agent %s replied on ticket %s", agent, ticket_id)
    raise web.HTTPSeeOther(f"/tickets/{ticket_id}?done=sent")


def hand_back_events(language: str) -> list[dict[str, str]]:
    """Rasa events that give a conversation back to the bot: ``resume``; a turn boundary (the
    customer's messages during the hand-off got no bot action, so the next one must start a
    fresh turn, or the bot's rules would not recognise it); the ticket slot cleared; and the bot's
    "I'm back"."""
    back = BOT_IS_BACK["en" if language == "en" else "zh"]
    return [
        {"event": "resume"},
        {"event": "slot", "name": HANDOFF_SLOT, "value": None},
        {"event": "action", "name": "action_listen"},
        {"event": "bot", "text": back},
    ]


async def close_ticket(request: web.Request) -> web.Response:
    """Close the ticket and give the conversation back to the bot, both or neither."""
    agent = request[AGENT]
    ticket_id = _ticket_id(request)
    console = request.app[CONSOLE]
    try:
        async with transaction(request) as tx:
            view = await tx.run(handoff.close, ticket_id, agent)
            await tx.run(_audited, view, agent, "close", console.now(), request[CLIENT])
            await console.rasa.append(view.conversation_id, hand_back_events(view.language))
    except TicketNotFound:
        raise web.HTTPNotFound() from None
    except (TicketTaken, TicketClosed) as error:
        return await _refusal(request, error)
    except RasaError as error:
        return await _ticket_page(
            request,
            502,
            error=f"{error} 工单仍未关闭，机器人没有恢复。 · The ticket is still open and the "
            "bot was not resumed.",
        )
    logger.info("agent console: agent %s closed ticket %s", agent, ticket_id)
    raise web.HTTPSeeOther(f"/tickets/{ticket_id}?done=closed")
