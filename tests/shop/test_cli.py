"""The merchant's ``kefu`` command on a real (SQLite) database."""

import pytest

from kefu.cli import main


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
