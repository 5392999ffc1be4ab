"""The merchant's ``kefu`` command on a real (SQLite) database."""

from datetime import datetime

import pytest

from kefu.account import request_erasure
from kefu.cli import main
from kefu.db import make_engine, make_session_factory, session_scope
from kefu.models import Customer


@pytest.fixture
def shop_db(tmp_path, monkeypatch):
    monkeypatch.setenv("KEFU_DB_URL", f"sqlite:///{tmp_path}/shop.db")
    assert main(["db", "upgrade"]) == 0
    return tmp_path


def test_demo_load_then_search_and_export(shop_db, capsys):
    assert main(["demo", "load", "--seed", "3"]) == 0
    assert "1207 products" in capsys.readouterr().out
    assert main(["demo", "load", "--if-empty"]) == 0
    assert "nothing loaded" in capsys.readouterr().out

    assert main(["search", "新款", "手机", "--sort", "newest", "--limit", "3"]) == 0
    out, err = capsys.readouterr()
    assert len(out.strip().splitlines()) == 3
    assert "match(es)" in err

    out_file = shop_db / "catalog.jsonl"
    assert main(["catalog", "export", "--format", "jsonl", "--out", str(out_file)]) == 0
    assert len(out_file.read_text(encoding="utf-8").splitlines()) == 1207


def test_import_reports_errors_with_line_numbers_and_changes_nothing(shop_db, capsys):
    main(["demo", "load", "--seed", "3"])
    capsys.readouterr()
    bad = shop_db / "bad.csv"
    bad.write_text("sku,title_zh,category,brand,price\nN-1,新品,phones,华为,-3\n", "utf-8")
    assert main(["catalog", "import", str(bad), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2: price: must not be negative" in err
    assert "nothing was changed" in err


def test_import_valid_file(shop_db, capsys):
    main(["demo", "load", "--seed", "3"])
    good = shop_db / "good.csv"
    good.write_text(
        "sku,title_zh,title_en,category,brand,price,stock\n"
        "N-1,新品手机,New phone,phones,华为,999,5\n",
        "utf-8",
    )
    capsys.readouterr()
    assert main(["catalog", "import", str(good), "--no-progress"]) == 0
    assert "imported: 1 created, 0 updated" in capsys.readouterr().out
    assert main(["search", "新品手机"]) == 0
    assert "N-1" in capsys.readouterr().out


def test_unreadable_file_is_a_clear_error(shop_db, capsys):
    assert main(["catalog", "import", str(shop_db / "missing.csv")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_privacy_erase_due_erases_due_customers_and_prints_only_how_many(shop_db, capsys):
    engine = make_engine()
    try:
        with session_scope(make_session_factory(engine)) as session:
            asked = Customer(name="张三丰", phone="13812346093", email="zhang@example.com")
            waiting = Customer(name="李四", phone="13987651234")
            session.add_all([asked, waiting])
            session.flush()
            request_erasure(session, asked.id, "conv-1/erase", datetime(2020, 1, 1))
            request_erasure(session, waiting.id, "conv-2/erase", datetime(2999, 1, 1))
        capsys.readouterr()
        assert main(["privacy", "erase-due"]) == 0
        out, err = capsys.readouterr()
        assert "erased the personal data of 1 customer(s)" in out
        for secret in ("张三丰", "13812346093", "zhang@example.com", "李四"):
            assert secret not in out + err
        with session_scope(make_session_factory(engine)) as session:
            assert session.get(Customer, asked.id).erased_at is not None
            assert session.get(Customer, waiting.id).name == "李四"
        assert main(["privacy", "erase-due"]) == 0
        assert "of 0 customer(s)" in capsys.readouterr().out
    finally:
        engine.dispose()
