"""Personal columns of the shop database encrypted at rest (kefu.privacy.fields), on SQLite and
PostgreSQL: the raw file and a dump hold no name, phone, e-mail or address, yet the library
reads them (order verification by the phone's last digits works); values written before
encryption are sealed by ``kefu keys rotate``, which also moves everything to a new key."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from kefu.cli import main
from kefu.db import session_scope
from kefu.identity import VerificationState, VerificationStatus, verify_order_access
from kefu.models import Address, Customer, Invoice, Order
from kefu.privacy.keys import read_key_file
from tests.privacy.conftest import (
    CUSTOMER_ADDRESS,
    CUSTOMER_EMAIL,
    CUSTOMER_NAME,
    CUSTOMER_PHONE,
    SECRETS,
    assert_absent,
    raw_bytes,
)
from tests.privacy.people import make_people


@pytest.fixture
def people(data_key, mini_shop, database_url, tracker_for_shop, monkeypatch):
    monkeypatch.setenv("KEFU_DB_URL", database_url)
    return make_people(mini_shop, tracker_for_shop)


def test_nothing_personal_in_the_raw_shop_database_yet_the_library_reads_it(
    people, mini_shop, database_url
):
    mini_shop.kw["bind"].dispose()
    assert_absent(raw_bytes(database_url), [CUSTOMER_NAME, CUSTOMER_EMAIL, CUSTOMER_ADDRESS])
    with session_scope(mini_shop) as session:
        customer = session.get(Customer, people.customer)
        assert (customer.name, customer.phone, customer.email) == (
            CUSTOMER_NAME,
            CUSTOMER_PHONE,
            CUSTOMER_EMAIL,
        )
        assert customer.addresses[0].detail == CUSTOMER_ADDRESS
        order = session.scalars(select(Order).where(Order.customer_id == people.customer)).one()
        assert order.shipping_address["detail"] == CUSTOMER_ADDRESS
        result, _ = verify_order_access(
            session, VerificationState(), order.order_no, CUSTOMER_PHONE[-4:], 1e9
        )
        assert result.status == VerificationStatus.VERIFIED


def test_rotate_seals_old_plain_values_and_moves_to_a_new_key(
    people, mini_shop, database_url, tracker_for_shop, tmp_path, monkeypatch, capsys
):
    with session_scope(mini_shop) as session:  # a row written before encryption
        invoice = session.scalars(select(Invoice.id).order_by(Invoice.id)).first()
        session.execute(
            text("UPDATE invoices SET title = :title WHERE id = :id"),
            {"title": CUSTOMER_NAME, "id": invoice},
        )
    with session_scope(mini_shop) as session:
        assert session.get(Invoice, invoice).title == CUSTOMER_NAME
    mini_shop.kw["bind"].dispose()
    assert CUSTOMER_NAME.encode() in raw_bytes(database_url)

    key_file = tmp_path / "keys" / "data.key"  # the environment's key, then a new one
    monkeypatch.setenv("KEFU_DATA_KEY_FILE", str(key_file))
    from kefu.privacy.keys import load_keyring, write_key_file

    write_key_file(key_file, load_keyring().keys)
    monkeypatch.delenv("KEFU_DATA_KEY")
    assert main(["keys", "add"]) == 0
    rotate = ["keys", "rotate", "--retire", "--batch", "3", "--tracker-db", tracker_for_shop]
    assert main(rotate) == 0
    assert "row(s) of the shop database" in capsys.readouterr().out
    assert len(read_key_file(key_file).keys) == 1

    mini_shop.kw["bind"].dispose()
    assert_absent(raw_bytes(database_url), SECRETS[:1] + SECRETS[2:])
    with session_scope(mini_shop) as session:
        assert session.get(Invoice, invoice).title == CUSTOMER_NAME
        assert session.get(Customer, people.customer).phone == CUSTOMER_PHONE
        details = session.scalars(select(Address.detail).order_by(Address.id)).all()
        assert details[0] == CUSTOMER_ADDRESS
