import csv
import io
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from kefu.db import session_scope
from kefu.importer import CatalogFileError, export_records, import_catalog, write_export
from kefu.models import Brand, Product, ProductAttribute, ProductVariant
from kefu.search import SearchQuery, search

HEADER = "sku,title_zh,title_en,category,brand,price,list_price,stock,attributes,variants\n"


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run_import(factory, path, **options):
    with session_scope(factory) as session:
        report = import_catalog(session, path, progress=False, **options)
        if not report.written:
            session.rollback()
    return report


def count(factory, model=Product):
    with session_scope(factory) as session:
        return session.scalar(select(func.count()).select_from(model))


def product(factory, sku):
    with session_scope(factory) as session:
        p = session.scalar(select(Product).where(Product.sku == sku))
        return p, sorted(
            (v.sku, v.stock)
            for v in session.scalars(
                select(ProductVariant).where(ProductVariant.product_id == p.id)
            )
        ) if p else None


def test_csv_creates_then_updates_by_sku(mini_shop, tmp_path):
    path = write(
        tmp_path,
        "new.csv",
        HEADER
        + (
            'TV-1,海信 65英寸 电视,Hisense 65" TV,digital,海信,3999,4599,12,'
            '"{""size"": ""65英寸""}",\n'
            "PH-XM-15,小米 15 手机 新包装,Xiaomi 15 new box,phones,xiaomi,3799.5,,,,"
            '"[{""color_en"": ""Black"", ""color_zh"": ""黑色"", ""storage"": ""512GB"", '
            '""stock"": 3}]"\n'
        ),
    )
    report = run_import(mini_shop, path)
    assert (report.created, report.updated, report.invalid, report.written) == (1, 1, 0, True)
    tv, tv_variants = product(mini_shop, "TV-1")
    assert tv.price == Decimal("3999.00") and tv.list_price == Decimal("4599.00")
    assert tv.stock_total == 12 and tv_variants == [("TV-1", 12)]
    phone, variants = product(mini_shop, "PH-XM-15")
    assert phone.title_zh == "小米 15 手机 新包装" and phone.price == Decimal("3799.50")
    assert variants == [("PH-XM-15-1", 3)]  # variants are replaced, not merged
    with session_scope(mini_shop) as session:
        assert session.scalar(select(Brand).where(Brand.name_zh == "海信")) is not None
        assert search(session, SearchQuery(text="海信 电视")).total == 1


def test_jsonl_with_bilingual_attributes(mini_shop, tmp_path):
    record = {
        "sku": "BK-1",
        "title_zh": "三体",
        "title_en": "The Three-Body Problem",
        "category": "数码",
        "brand": "重庆出版社",
        "price": "23.5",
        "stock": 40,
        "attributes": {"author": {"zh": "刘慈欣", "en": "Liu Cixin"}},
        "release_date": "2008-01",
    }
    path = write(tmp_path, "books.jsonl", json.dumps(record, ensure_ascii=False) + "\n\n")
    assert run_import(mini_shop, path).created == 1
    with session_scope(mini_shop) as session:
        attribute = session.scalar(select(ProductAttribute).where(ProductAttribute.key == "author"))
        assert (attribute.value_zh, attribute.value_en) == ("刘慈欣", "Liu Cixin")
        assert search(session, SearchQuery(text="liu cixin")).total == 1


def test_gbk_file_from_excel_is_read(mini_shop, tmp_path):
    path = write(
        tmp_path,
        "gbk.csv",
        HEADER + "G-1,华为 平板,Huawei tablet,数码,华为,1999,,5,,\n",
        encoding="gbk",
    )
    report = run_import(mini_shop, path)
    assert report.encoding == "gb18030" and report.created == 1
    assert product(mini_shop, "G-1")[0].title_zh == "华为 平板"


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ("B-1,坏,bad,phones,华为,-5,,,,", "price", "must not be negative"),
        ("B-1,坏,bad,phones,华为,abc,,,,", "price", "is not a number"),
        ("B-1,坏,bad,phones,华为,1.234,,,,", "price", "more than 2 decimals"),
        ("B-1,坏,bad,phones,华为,10,9,,,", "list_price", "below the price"),
        ("B-1,坏,bad,phones,华为,10,,-1,,", "stock", "must not be negative"),
        ("B-1,坏,bad,tractors,华为,10,,,,", "category", "unknown category 'tractors'"),
        ("B 1,坏,bad,phones,华为,10,,,,", "sku", "may only use"),
        ("B-1,,,phones,华为,10,,,,", "title_zh", "a title is required"),
        ("B-1,坏,bad,phones,,10,,,,", "brand", "is required"),
        ('B-1,坏,bad,phones,华为,10,,,"{oops",', "attributes", "not valid JSON"),
        ('B-1,坏,bad,phones,华为,10,,,,"[{""stock"": -2}]"', "variants[1].stock", "negative"),
        ("B-1,坏,bad,phones,华为,10,,,,,extra", "line", "cells, the header has"),
    ],
)
def test_bad_rows_name_file_line_field_and_reason(mini_shop, tmp_path, row, field, reason):
    path = write(tmp_path, "bad.csv", HEADER + "OK-1,好,good,phones,华为,10,,1,,\n" + row + "\n")
    report = run_import(mini_shop, path)
    assert not report.written
    [error] = report.errors
    assert (error.line, error.field) == (3, field)
    assert reason in error.reason
    assert str(error).startswith(f"{path}:3: {field}: ")
    assert count(mini_shop) == 5  # the valid first row was not written either


def test_skip_invalid_imports_the_rest(mini_shop, tmp_path):
    path = write(
        tmp_path,
        "mixed.csv",
        HEADER + "OK-1,好,good,phones,华为,10,,1,,\n"
        "BAD-1,坏,bad,phones,华为,-1,,,,\nOK-2,好2,good2,phones,华为,11,,1,,\n",
    )
    report = run_import(mini_shop, path, skip_invalid=True)
    assert (report.created, report.invalid, report.written) == (2, 1, True)
    assert report.errors[0].line == 3
    assert count(mini_shop) == 7


def test_duplicate_sku_in_one_file(mini_shop, tmp_path):
    path = write(
        tmp_path,
        "dup.csv",
        HEADER + "D-1,一,one,phones,华为,10,,1,,\nD-1,二,two,phones,华为,20,,1,,\n",
    )
    [error] = run_import(mini_shop, path).errors
    assert error.line == 3 and "duplicate SKU 'D-1' (first on line 2)" in error.reason


def test_variant_sku_of_another_product_is_refused(mini_shop, tmp_path):
    path = write(
        tmp_path,
        "clash.csv",
        HEADER + 'C-1,一,one,phones,华为,10,,,,"[{""sku"": ""PH-XM-15-WHITE-256GB""}]"\n',
    )
    [error] = run_import(mini_shop, path).errors
    assert "belongs to product 'PH-XM-15'" in error.reason


def test_megabyte_description_is_refused_not_stored(mini_shop, tmp_path):
    header = "sku,title_zh,category,brand,price,description_zh\n"
    path = write(tmp_path, "big.csv", header + "M-1,大,phones,华为,10," + "长" * 1_048_576 + "\n")
    [error] = run_import(mini_shop, path).errors
    assert error.field == "description_zh" and "1,048,576 characters" in error.reason


def test_sql_metacharacters_are_stored_verbatim(mini_shop, tmp_path):
    title = "Robert'); DROP TABLE products;--"
    rows = [["sku", "title_en", "category", "brand", "price"], ["Q-1", title, "phones", "x", "1"]]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    run_import(mini_shop, write(tmp_path, "q.csv", buffer.getvalue()))
    assert product(mini_shop, "Q-1")[0].title_en == title
    assert count(mini_shop) == 6


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", "", "the file is empty"),
        ("cols.csv", "sku,colour\n", "unknown column(s) colour"),
        ("req.csv", "sku,title_zh\n", "missing required column(s) category, brand, price"),
        ("x.xlsx", "whatever", "unsupported file type"),
    ],
)
def test_unreadable_files_are_clear_errors(mini_shop, tmp_path, name, content, message):
    with pytest.raises(CatalogFileError, match="^" + str(tmp_path)) as caught:
        run_import(mini_shop, write(tmp_path, name, content))
    assert message in str(caught.value)


def test_binary_garbage_is_not_text(mini_shop, tmp_path):
    path = tmp_path / "garbage.csv"
    path.write_bytes(b"sku,price\n\xff\xfe\x81\x00\xff")
    with pytest.raises(CatalogFileError, match="neither UTF-8 nor GBK"):
        run_import(mini_shop, path)


def test_malformed_json_line(mini_shop, tmp_path):
    path = write(tmp_path, "bad.jsonl", '{"sku": "J-1"\n[1, 2]\n')
    errors = run_import(mini_shop, path).errors
    assert [(e.line, e.reason.split(" (")[0]) for e in errors] == [
        (1, "not valid JSON"),
        (2, "each line must be a JSON object"),
    ]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_then_import_round_trips(mini_shop, tmp_path, fmt):
    with session_scope(mini_shop) as session:
        before = list(export_records(session))
        path = tmp_path / f"export.{fmt}"
        with path.open("w", encoding="utf-8", newline="") as out:
            assert write_export(iter(before), out, fmt) == 5
    report = run_import(mini_shop, path)
    assert (report.created, report.updated, report.invalid) == (0, 5, 0)
    with session_scope(mini_shop) as session:
        assert list(export_records(session)) == before
