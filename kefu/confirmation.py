"""Consent that means it: asking to confirm a previewed change, and the customer's answer.

After a preview (:mod:`kefu.order_tasks`, :mod:`kefu.account`) the bot asks for a yes.  For
changes that matter (cancel, address, return, refund, invoice, erasure) the yes is the one-time
code sent to the phone or e-mail on file (:mod:`kefu.step_up`); a newsletter choice takes a plain
yes.  Either way the confirmation names the change and the order, and it lapses after
``consent_minutes`` or as soon as the customer talks about something else
(:func:`kefu.order_tasks.consent_lapsed`).  After the change the address on file is told.

:func:`ask_to_confirm` and :func:`answer_confirmation` each return the replies to say and the
change still waiting (None: nothing is pending any more).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from kefu.account import ACCOUNT_CHANGE_KINDS, apply_account_change
from kefu.clock import from_timestamp, to_db
from kefu.config import Bilingual, IdentityLimits, shop_config
from kefu.identity import VerificationState, accessible_order
from kefu.models import Customer, Order, OrderRequest
from kefu.notify import Notifier, Recipient
from kefu.order_tasks import PendingChange, Reply, apply_change, consent_lapsed, outcome_replies
from kefu.privacy.own_conversation import CONVERSATION_ERASURE, erase_own_conversation
from kefu.step_up import (
    CHANGE_NAMES,
    STEP_UP_KINDS,
    CodeCheck,
    check_code,
    customer_recipient,
    customer_subject,
    issue_code,
    notify_done,
    order_recipient,
    order_subject,
    parse_code,
    tries_left,
)

WHERE: dict[str, Bilingual] = {
    "sms": Bilingual("该订单（或账户）预留的手机", "the phone number on file"),
    "email": Bilingual("账户邮箱", "your account e-mail"),
}
SUBJECT: dict[str, Bilingual] = {
    "order": Bilingual("订单 {order_no}", "order {order_no}"),
    "account": Bilingual("您的账户", "your account"),
    "conversation": Bilingual("本次对话", "this conversation"),
}


@dataclass(frozen=True)
class ConfirmationTurn:
    replies: list[Reply]
    pending: PendingChange | None = None
    erase_conversation: bool = False  # the conversation store is to delete this conversation


def _subject(pending: PendingChange, language: str) -> str:
    if pending.kind == CONVERSATION_ERASURE:
        return SUBJECT["conversation"].get(language)
    if pending.order_no:
        return SUBJECT["order"].get(language).format(order_no=pending.order_no)
    return SUBJECT["account"].get(language)


def _names(pending: PendingChange, language: str) -> dict[str, str]:
    change = CHANGE_NAMES.get(pending.kind)
    return {
        "change": change.get(language) if change else pending.kind,
        "subject": _subject(pending, language),
    }


def _recipient(session: Session, pending: PendingChange, secret: str) -> Recipient | None:
    if pending.order_no:
        order = session.query(Order).filter(Order.order_no == pending.order_no).first()
        return order_recipient(session, order, secret) if order else None
    customer = session.get(Customer, pending.customer_id) if pending.customer_id else None
    return customer_recipient(customer, secret) if customer else None


def _already_done(session: Session, request_key: str) -> bool:
    """True when the change was made before (a double click): its outcome is said again."""
    found = session.query(OrderRequest.id).filter(OrderRequest.request_key == request_key)
    return found.first() is not None


def _code_subject(pending: PendingChange) -> str:
    if pending.order_no:
        return order_subject(pending.order_no)
    return customer_subject(int(pending.customer_id or 0))


def ask_to_confirm(
    session: Session,
    pending: PendingChange,
    *,
    language: str,
    notifier: Notifier,
    secret: str,
    now: int,
    turn: int,
    limits: IdentityLimits | None = None,
) -> ConfirmationTurn:
    """Ask for the yes to ``pending`` (sending the code where one is needed)."""
    limits = limits or shop_config().identity
    pending = pending.asked(now, turn)
    names = _names(pending, language)
    if pending.kind not in STEP_UP_KINDS:
        return ConfirmationTurn([Reply(response="utter_confirm_change", params=names)], pending)
    sent = issue_code(
        session,
        request_key=pending.request_key,
        subject=_code_subject(pending),
        kind=pending.kind,
        recipient=_recipient(session, pending, secret),
        language=language,
        notifier=notifier,
        now=now,
        limits=limits,
    )
    if sent.refused == "too_many":
        reply = Reply(response="utter_step_up_too_many", params={"minutes": limits.window_minutes})
        return ConfirmationTurn([reply])
    if sent.refused:
        return ConfirmationTurn([Reply(response="utter_step_up_unavailable")])
    params = {**names, "where": WHERE[sent.channel].get(language), "minutes": limits.code_minutes}
    return ConfirmationTurn([Reply(response="utter_confirm_with_code", params=params)], pending)


def answer_confirmation(
    session: Session,
    pending: PendingChange | None,
    *,
    text: str,
    later_intents: list[str | None],
    state: VerificationState,
    language: str,
    notifier: Notifier,
    secret: str,
    now: int,
    turn: int,
    limits: IdentityLimits | None = None,
    conversation_id: str | None = None,
) -> ConfirmationTurn:
    """The customer said yes (or typed a code): check consent and proof, then run the change
    once (its request key makes a repeat harmless) and tell the address on file.  Erasing
    the conversation (``conversation_id``, the one confirmed in) needs neither login nor code."""
    limits = limits or shop_config().identity
    if pending is None:
        return ConfirmationTurn([Reply(response="utter_nothing_to_confirm")])
    names = _names(pending, language)
    if consent_lapsed(pending, now, later_intents, limits.consent_minutes):
        return ConfirmationTurn([Reply(response="utter_confirmation_lapsed", params=names)])
    moment = to_db(from_timestamp(now))
    if pending.kind == CONVERSATION_ERASURE:
        replies = erase_own_conversation(session, conversation_id or "", moment)
        return ConfirmationTurn(replies, erase_conversation=True)
    if pending.kind in ACCOUNT_CHANGE_KINDS:
        if state.customer_id is None or state.customer_id != pending.customer_id:
            return ConfirmationTurn([Reply(response="utter_login_required")])
        order = None
    else:
        order = accessible_order(session, state, pending.order_no or "", now)
        if order is None:
            return ConfirmationTurn([Reply(response="utter_nothing_to_confirm")])
    recipient = None
    if pending.kind in STEP_UP_KINDS:
        code = parse_code(text)
        if code is None:
            reply = Reply(response="utter_code_needed", params=names)
            return ConfirmationTurn([reply], pending.asked(now, turn))
        checked = check_code(session, pending.request_key, code, now)
        if checked is CodeCheck.WRONG:
            params = {"tries": tries_left(session, pending.request_key)}
            return ConfirmationTurn(
                [Reply(response="utter_code_wrong", params=params)], pending.asked(now, turn)
            )
        if checked is CodeCheck.SPENT and not _already_done(session, pending.request_key):
            return ConfirmationTurn([Reply(response="utter_code_spent", params=names)])
        recipient = _recipient(session, pending, secret)
    if order is None:
        outcome = apply_account_change(session, pending, moment)
    else:
        outcome = apply_change(session, order, pending, moment)
    if outcome.done and not outcome.repeated and pending.kind in STEP_UP_KINDS:
        notify_done(
            recipient,
            kind=pending.kind,
            subject=_code_subject(pending),
            language=language,
            notifier=notifier,
        )
    return ConfirmationTurn(outcome_replies(outcome, language))
