"""Order verification and order visibility on SQLite and PostgreSQL."""

import json
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete, event

from kefu.cli import main
from kefu.db import session_scope
from kefu.identity import (
    VerificationResult,
    VerificationState,
    VerificationStatus,
    accessible_order,
    order_visible_to,
    verify_order_access,
    verify_token,
)
from kefu.models import Customer, Order, SecurityCounter

ZHANG_ORDER = "2507021316645123"
LI_ORDER = "2507031020123456"
NO_PHONE_ORDER = "2507041500000001"
UNKNOWN_ORDER = "2507051200999999"
NOW = 1_750_000_000
SECRET = "k" * 40
FAILED_2 = VerificationResult(VerificationStatus.FAILED, attempts_left=2)


def _address(name: str, phone: str | None) -> dict:
    address = {"recipient": name, "province": "广东省", "city": "深圳市", "district": "南山区"}
    return {**address, "detail": "科技园路1号", **({"phone": phone} if phone else {})}


def _order(order_no: str, customer: Customer, address: dict) -> Order:
    return Order(
        order_no=order_no,
        customer=customer,
        status="shipped",
        items_total=Decimal("99.00"),
        total=Decimal("99.00"),
        shipping_address=address,
        created_at=datetime(2025, 7, 2, 13, 16),
    )


@pytest.fixture
def shop(factory):
    """Zhang (phone …6093) and Li (…1234) with one order each, and one of Zhang's orders whose
    address snapshot has no phone; returns (factory, zhang id, li id)."""
    with session_scope(factory) as session:
        zhang = Customer(name="张三丰", phone="13812346093", email="zhang@example.com")
        li = Customer(name="李四", phone="13987651234")
        session.add_all(
            [
                _order(ZHANG_ORDER, zhang, _address("张三丰", "13812346093")),
                _order(LI_ORDER, li, _address("李四", "139-8765-1234")),
                _order(NO_PHONE_ORDER, zhang, _address("张三丰", None)),
            ]
        )
        session.flush()
        ids = zhang.id, li.id
    return factory, *ids


def _without_login(state: VerificationState) -> VerificationState:
    return VerificationState.from_dict({**state.to_dict(), "customer_id": None})


def _verify(factory, state, order_no, last4, now=NOW):
    with session_scope(factory) as session:
        return verify_order_access(session, state, order_no, last4, now)


def test_right_phone_digits_verify_that_order(shop):
    factory, _, _ = shop
    result, state = _verify(factory, VerificationState(), ZHANG_ORDER, "6093")
    assert result == VerificationResult(VerificationStatus.VERIFIED, attempts_left=3)
    assert state == VerificationState(verified_orders=(ZHANG_ORDER,), verified_until=NOW + 1800)
    _, again = _verify(factory, state, ZHANG_ORDER, "６０９３")
    assert again.verified_orders == (ZHANG_ORDER,)
    result, state = _verify(factory, state, LI_ORDER, "1234")  # the phone on the order, digits only
    assert result.status is VerificationStatus.VERIFIED
    assert state.verified_orders == (ZHANG_ORDER, LI_ORDER)


def test_without_a_phone_on_the_order_the_account_phone_counts(shop):
    factory, _, _ = shop
    result, _ = _verify(factory, VerificationState(), NO_PHONE_ORDER, "6093")
    assert result.status is VerificationStatus.VERIFIED


def test_unknown_order_wrong_phone_and_someone_elses_order_fail_identically(shop):
    factory, zhang, _ = shop
    engine = factory.kw["bind"]
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    outcomes = []
    try:
        for hour, (state, order_no, last4) in enumerate(
            [
                (VerificationState(), ZHANG_ORDER, "1111"),  # wrong phone
                (VerificationState(), UNKNOWN_ORDER, "6093"),  # no such order
                (VerificationState(), LI_ORDER, "6093"),  # Li's order with Zhang's digits
                (VerificationState(customer_id=zhang), LI_ORDER, "1234"),  # not Zhang's order
                (VerificationState(), ZHANG_ORDER, "abcd"),  # not digits at all
            ]
        ):
            with session_scope(factory) as session:  # each case with no failures counted before
                session.execute(delete(SecurityCounter))
            statements.clear()
            result, after = _verify(factory, state, order_no, last4, now=NOW + hour * 3601)
            outcomes.append((result, _without_login(after).attempts, len(statements)))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert outcomes[0][0] == FAILED_2
    assert all(outcome == outcomes[0] for outcome in outcomes)


def test_attempts_are_limited_and_the_lock_runs_out(shop):
    factory, _, _ = shop
    state = VerificationState()
    seen = []
    for _ in range(3):
        result, state = _verify(factory, state, UNKNOWN_ORDER, "6093")
        seen.append(result)
    locked_until = NOW + 30 * 60
    assert seen == [
        FAILED_2,
        VerificationResult(VerificationStatus.FAILED, attempts_left=1),
        VerificationResult(VerificationStatus.LOCKED, attempts_left=0, locked_until=locked_until),
    ]
    # locked: even the right digits are refused, and the state does not change
    result, still = _verify(factory, state, ZHANG_ORDER, "6093", now=locked_until - 1)
    assert result == seen[-1] and still == state
    # after the lock time the conversation gets a fresh set of attempts
    result, fresh = _verify(factory, state, ZHANG_ORDER, "0000", now=locked_until)
    assert result == FAILED_2
    result, fresh = _verify(factory, fresh, ZHANG_ORDER, "6093", now=locked_until)
    assert result == VerificationResult(VerificationStatus.VERIFIED, attempts_left=2)
    assert fresh.locked_until is None and fresh.verified_orders == (ZHANG_ORDER,)


def test_success_does_not_reset_the_failure_count(shop):
    factory, _, _ = shop
    state = VerificationState()
    for order_no, last4 in [(LI_ORDER, "0000"), (ZHANG_ORDER, "6093"), (LI_ORDER, "0001")]:
        _, state = _verify(factory, state, order_no, last4)
    result, state = _verify(factory, state, LI_ORDER, "0002")
    assert result.status is VerificationStatus.LOCKED
    assert state.verified_orders == (ZHANG_ORDER,)  # what was proven stays proven


def test_state_round_trips_through_a_slot(shop):
    factory, zhang, _ = shop
    state = VerificationState().logged_in(zhang)
    _, state = _verify(factory, state, UNKNOWN_ORDER, "6093")
    _, state = _verify(factory, state, NO_PHONE_ORDER, "6093")
    slot_value = json.loads(json.dumps(state.to_dict()))
    assert VerificationState.from_dict(slot_value) == state
    assert state.attempts == 1 and state.customer_id == zhang
    assert VerificationState.from_dict(None) == VerificationState()
    assert VerificationState.from_dict({}) == VerificationState()


@pytest.mark.parametrize(
    "data",
    [
        {"attempts": "2"},
        {"attempts": -1},
        {"attempts": True},
        {"locked_until": 1.5},
        {"verified_orders": ZHANG_ORDER},
        {"verified_orders": [1]},
        "attempts=2",
    ],
)
def test_invalid_state_is_an_error(data):
    with pytest.raises(ValueError):
        VerificationState.from_dict(data)


def test_an_order_of_someone_else_looks_like_no_order(shop):
    factory, zhang, li = shop
    with session_scope(factory) as session:
        assert order_visible_to(session, ZHANG_ORDER, zhang).order_no == ZHANG_ORDER
        assert order_visible_to(session, ZHANG_ORDER, li) is None
        assert order_visible_to(session, UNKNOWN_ORDER, zhang) is None
        assert order_visible_to(session, ZHANG_ORDER, None) is None


def test_accessible_orders_of_a_conversation(shop):
    factory, zhang, _ = shop
    with session_scope(factory) as session:
        anonymous = VerificationState()
        assert accessible_order(session, anonymous, ZHANG_ORDER) is None
        proven = VerificationState(verified_orders=(LI_ORDER,))
        assert accessible_order(session, proven, LI_ORDER).order_no == LI_ORDER
        assert accessible_order(session, proven, ZHANG_ORDER) is None
        logged_in = anonymous.logged_in(zhang)
        assert accessible_order(session, logged_in, NO_PHONE_ORDER).order_no == NO_PHONE_ORDER
        assert accessible_order(session, logged_in, LI_ORDER) is None


def test_cli_prints_a_token_for_an_existing_customer(shop, database_url, monkeypatch, capsys):
    _, zhang, _ = shop
    monkeypatch.setenv("KEFU_DB_URL", database_url)
    monkeypatch.delenv("KEFU_IDENTITY_SECRET", raising=False)
    assert main(["identity", "token", str(zhang)]) == 1
    assert "KEFU_IDENTITY_SECRET is not set" in capsys.readouterr().err

    monkeypatch.setenv("KEFU_IDENTITY_SECRET", SECRET)
    assert main(["identity", "token", str(zhang), "--ttl", "60"]) == 0
    out, err = capsys.readouterr()
    assert verify_token(out.strip(), SECRET) == zhang
    assert "valid for 60 seconds" in err

    assert main(["identity", "token", "999999"]) == 1
    assert "no customer with id 999999" in capsys.readouterr().err


def test_the_lock_is_shared_by_every_conversation_of_an_order(shop):
    """Brute force across new senders, /restart and /back: every fresh conversation state
    spends the same per-order count, and the right digits are refused once it is locked."""
    factory, _, _ = shop
    results = [_verify(factory, VerificationState(), ZHANG_ORDER, f"{n:04d}")[0] for n in range(3)]
    assert [r.status for r in results] == [
        VerificationStatus.FAILED,
        VerificationStatus.FAILED,
        VerificationStatus.LOCKED,
    ]
    result, state = _verify(factory, VerificationState(), ZHANG_ORDER, "6093", now=NOW + 60)
    assert result.status is VerificationStatus.LOCKED and state.verified_orders == ()
    # the owner's other orders are locked too (the count is per customer as well)
    result, _ = _verify(factory, VerificationState(), NO_PHONE_ORDER, "6093", now=NOW + 60)
    assert result.status is VerificationStatus.LOCKED
    # after the cool-down the right digits work again
    result, _ = _verify(factory, VerificationState(), ZHANG_ORDER, "6093", now=NOW + 1800)
    assert result.status is VerificationStatus.VERIFIED


def test_a_proven_order_closes_after_verified_minutes(shop):
    factory, _, _ = shop
    _, state = _verify(factory, VerificationState(), ZHANG_ORDER, "6093")
    with session_scope(factory) as session:
        assert accessible_order(session, state, ZHANG_ORDER, now=NOW + 1799) is not None
        assert accessible_order(session, state, ZHANG_ORDER, now=NOW + 1800) is None
    # a slot written before proofs expired carries no expiry: nothing stays proven
    old = {"attempts": 0, "verified_orders": [ZHANG_ORDER]}
    assert VerificationState.from_dict(old).verified_orders == ()
