"""Catalog import and export for merchants (CSV and JSON Lines).

Rows are matched to products by SKU (insert or update).  Every row is validated first; an error
names the file, line, field and reason.  By default nothing is written when any row is invalid;
with ``skip_invalid`` the valid rows are imported and the invalid ones reported.  Either way the
import is one transaction: it is written completely or not at all.

The column format is documented in ``docs/catalog-format.md``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kefu.catalog import CategoryTree, bulk_insert, chunks, reindex_products
from kefu.models import Brand, Product, ProductAttribute, ProductVariant

COLUMNS = (
    "sku",
    "title_zh",
    "title_en",
    "description_zh",
    "description_en",
    "category",
    "brand",
    "price",
    "list_price",
    "release_date",
    "rating",
    "sales_count",
    "stock",
    "image_url",
    "product_url",
    "attributes",
    "variants",
    "active",
)
REQUIRED = ("sku", "category", "brand", "price")
MAX_TITLE = 200
MAX_DESCRIPTION = 20_000
MAX_PRICE = Decimal("10000000")
MAX_STOCK = 10_000_000
MAX_ERRORS_REPORTED = 200
SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
URL = re.compile(r"^(?:https?://|/)\S{1,490}$")
YEAR_MONTH = re.compile(r"^(\d{4})-(\d{1,2})(?:-(\d{1,2}))?$")


class CatalogFileError(ValueError):
    """The file as a whole cannot be read (encoding, header, format)."""


@dataclass(frozen=True)
class RowError:
    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.reason}"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    invalid: int = 0
    errors: list[RowError] = field(default_factory=list)
    encoding: str = "utf-8"
    written: bool = False


@dataclass
class _Row:
    line: int
    values: dict[str, Any]


class _Invalid(Exception):
    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field_name
        self.reason = reason


# ----------------------------------------------------------------------------- reading files


def decode(data: bytes) -> tuple[str, str]:
    """Text and encoding name: UTF-8 (with or without BOM), else GB18030 (covers GBK)."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            line = data[: utf8_error.start].count(b"\n") + 1
            raise CatalogFileError(
                f"line {line}: the file is neither UTF-8 nor GBK/GB18030 "
                f"(byte 0x{data[utf8_error.start]:02x})"
            ) from None


def read_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, raw record) for each record of a CSV or JSON Lines file."""
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        yield from _read_jsonl(text)
    elif path.suffix.lower() in (".csv", ".txt"):
        yield from _read_csv(text)
    else:
        raise CatalogFileError(f"unsupported file type '{path.suffix}': use .csv or .jsonl")


def _read_jsonl(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield number, {"__error__": ("line", f"not valid JSON ({error.msg})")}
            continue
        if not isinstance(record, dict):
            yield number, {"__error__": ("line", "each line must be a JSON object")}
            continue
        yield number, record


def _read_csv(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    csv.field_size_limit(4 * 1024 * 1024)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CatalogFileError("line 1: the file is empty") from None
    except csv.Error as error:
        raise CatalogFileError(f"line 1: malformed CSV header ({error})") from None
    header = [h.strip().lower() for h in header]
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise CatalogFileError(f"line 1: unknown column(s) {', '.join(unknown)}")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CatalogFileError(f"line 1: missing required column(s) {', '.join(missing)}")
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield start, {"__error__": ("line", f"malformed CSV ({error})")}
            return
        if any(c.strip() for c in cells):
            if len(cells) != len(header):
                yield (
                    start,
                    {"__error__": ("line", f"{len(cells)} cells, the header has {len(header)}")},
                )
            else:
                yield start, {h: c for h, c in zip(header, cells, strict=True) if c != ""}
        start = reader.line_num + 1


# ----------------------------------------------------------------------------- validation


def _text(record: dict, name: str, limit: int, required: bool = False) -> str | None:
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _Invalid(name, "is required")
        return None
    if not isinstance(value, str):
        value = str(value)
    value = value.strip()
    if len(value) > limit:
        raise _Invalid(name, f"is too long ({len(value):,} characters, at most {limit:,})")
    if "\x00" in value:
        raise _Invalid(name, "contains a NUL character")
    return value


def _money(record: dict, name: str, required: bool = False) -> Decimal | None:
    raw = record.get(name)
    if raw is None or str(raw).strip() == "":
        if required:
            raise _Invalid(name, "is required")
        return None
    text = str(raw).strip().replace(",", "").lstrip("¥￥")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _Invalid(name, f"'{raw}' is not a number") from None
    if not value.is_finite():
        raise _Invalid(name, f"'{raw}' is not a number")
    if value < 0:
        raise _Invalid(name, f"must not be negative (got {raw})")
    if value > MAX_PRICE:
        raise _Invalid(name, f"is implausibly high (got {raw}, at most {MAX_PRICE})")
    if value != value.quantize(Decimal("0.01")):
        raise _Invalid(name, f"has more than 2 decimals (got {raw})")
    return value.quantize(Decimal("0.01"))


def _integer(record: dict, name: str, maximum: int) -> int | None:
    raw = record.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise _Invalid(name, f"'{raw}' is not a whole number") from None
    if value < 0:
        raise _Invalid(name, f"must not be negative (got {raw})")
    if value > maximum:
        raise _Invalid(name, f"is too large (got {raw}, at most {maximum:,})")
    return value


def _release_date(record: dict) -> date | None:
    raw = record.get("release_date")
    if raw is None or str(raw).strip() == "":
        return None
    match = YEAR_MONTH.match(str(raw).strip())
    try:
        if not match:
            raise ValueError
        return date(int(match[1]), int(match[2]), int(match[3] or 1))
    except ValueError:
        raise _Invalid("release_date", f"'{raw}' is not a date (YYYY-MM-DD or YYYY-MM)") from None


def _rating(record: dict) -> Decimal | None:
    raw = record.get("rating")
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise _Invalid("rating", f"'{raw}' is not a number") from None
    if not value.is_finite() or not 0 <= value <= 5:
        raise _Invalid("rating", f"must be between 0 and 5 (got {raw})")
    return value.quantize(Decimal("0.01"))


def _url(record: dict, name: str) -> str | None:
    value = _text(record, name, 500)
    if value is not None and not URL.match(value):
        raise _Invalid(name, f"'{value[:60]}' is not an http(s) URL or a path starting with /")
    return value


def _json_cell(record: dict, name: str, kind: type) -> Any:
    value = record.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise _Invalid(name, f"is not valid JSON ({error.msg})") from None
    if not isinstance(value, kind):
        raise _Invalid(name, f"must be a JSON {'object' if kind is dict else 'list'}")
    return value


def _attributes(record: dict) -> list[dict[str, str]]:
    raw = _json_cell(record, "attributes", dict) or {}
    out = []
    for key, value in raw.items():
        if not isinstance(key, str) or not 0 < len(key) <= 50:
            raise _Invalid("attributes", f"attribute name '{key}' must be 1–50 characters")
        if isinstance(value, dict):
            zh, en = value.get("zh"), value.get("en")
            zh, en = zh if zh is not None else en, en if en is not None else zh
        else:
            zh = en = value
        if not isinstance(zh, str | int | float) or not isinstance(en, str | int | float):
            raise _Invalid("attributes", f'\'{key}\' needs a text value or {{"zh", "en"}}')
        zh, en = str(zh).strip(), str(en).strip()
        if not zh or len(zh) > 200 or len(en) > 200:
            raise _Invalid("attributes", f"'{key}' value must be 1–200 characters")
        out.append({"key": key, "value_zh": zh, "value_en": en})
    return out


def _variants(record: dict, sku: str, price: Decimal) -> list[dict[str, Any]]:
    raw = _json_cell(record, "variants", list)
    if raw is None:
        stock = _integer(record, "stock", MAX_STOCK) or 0
        return [{"sku": sku, "price": price, "stock": stock}]
    if not raw:
        raise _Invalid("variants", "must list at least one variant")
    out, skus = [], set()
    for index, variant in enumerate(raw, start=1):
        where = f"variants[{index}]"
        if not isinstance(variant, dict):
            raise _Invalid(where, "must be a JSON object")
        try:
            variant_sku = _text(variant, "sku", 80) or f"{sku}-{index}"
            variant_price = _money(variant, "price")
            stock = _integer(variant, "stock", MAX_STOCK) or 0
            row = {
                "sku": variant_sku,
                "color_zh": _text(variant, "color_zh", 50),
                "color_en": _text(variant, "color_en", 50),
                "size": _text(variant, "size", 30),
                "storage": _text(variant, "storage", 30),
                "price": variant_price if variant_price is not None else price,
                "stock": stock,
            }
        except _Invalid as error:
            raise _Invalid(f"{where}.{error.field}", error.reason) from None
        if variant_sku in skus:
            raise _Invalid(where, f"duplicate variant SKU '{variant_sku}'")
        skus.add(variant_sku)
        out.append(row)
    return out


def _active(record: dict) -> bool:
    raw = record.get("active")
    if raw is None or str(raw).strip() == "":
        return True
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "y", "是"):
        return True
    if text in ("0", "false", "no", "n", "否"):
        return False
    raise _Invalid("active", f"'{raw}' is not yes/no")


def validate_record(record: dict, tree: CategoryTree) -> dict[str, Any]:
    """A clean product record, or :class:`_Invalid` naming the first bad field."""
    if "__error__" in record:
        raise _Invalid(*record["__error__"])
    unknown = [k for k in record if k not in COLUMNS]
    if unknown:
        raise _Invalid(unknown[0], "unknown field")
    sku = _text(record, "sku", 64, required=True)
    if not SKU.match(sku):
        raise _Invalid("sku", f"'{sku[:70]}' may only use letters, digits, '.', '_' and '-'")
    title_zh = _text(record, "title_zh", MAX_TITLE)
    title_en = _text(record, "title_en", MAX_TITLE)
    if not title_zh and not title_en:
        raise _Invalid("title_zh", "a title is required (title_zh or title_en)")
    category_name = _text(record, "category", 200, required=True)
    category = tree.find(category_name)
    if category is None:
        raise _Invalid("category", f"unknown category '{category_name}'")
    price = _money(record, "price", required=True)
    list_price = _money(record, "list_price")
    if list_price is not None and list_price < price:
        raise _Invalid("list_price", f"is below the price ({list_price} < {price})")
    return {
        "sku": sku,
        "title_zh": title_zh or title_en,
        "title_en": title_en or title_zh,
        "description_zh": _text(record, "description_zh", MAX_DESCRIPTION) or "",
        "description_en": _text(record, "description_en", MAX_DESCRIPTION) or "",
        "category_id": category.id,
        "brand": _text(record, "brand", 100, required=True),
        "price": price,
        "list_price": list_price,
        "release_date": _release_date(record),
        "rating": _rating(record),
        "sales_count": _integer(record, "sales_count", 2_000_000_000) or 0,
        "image_url": _url(record, "image_url"),
        "product_url": _url(record, "product_url"),
        "is_active": _active(record),
        "attributes": _attributes(record),
        "variants": _variants(record, sku, price),
    }


# ----------------------------------------------------------------------------- writing


def _progress(total: int | None, description: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit=" rows", disable=not enabled, leave=False)


def import_catalog(
    session: Session,
    path: str | Path,
    skip_invalid: bool = False,
    progress: bool | None = None,
) -> ImportReport:
    """Validate and upsert every product of a CSV or JSON Lines file, in ``session``'s transaction.

    The caller commits.  When ``report.written`` is False nothing was changed.
    """
    path = Path(path)
    progress = sys.stderr.isatty() if progress is None else progress
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CatalogFileError(f"{path}: cannot read ({error.strerror})") from None
    try:
        text, encoding = decode(data)
    except CatalogFileError as error:
        raise CatalogFileError(f"{path}:{str(error)[5:]}") from None
    report = ImportReport(encoding=encoding)
    tree = CategoryTree.load(session)
    records: list[_Row] = []
    first_line: dict[str, int] = {}
    variant_owner: dict[str, str] = {}
    try:
        rows = list(read_rows(path, text))
    except CatalogFileError as error:
        raise CatalogFileError(f"{path}: {error}") from None
    with _progress(len(rows), "validating", progress) as bar:
        for line, record in rows:
            bar.update(1)
            try:
                clean = validate_record(record, tree)
                if clean["sku"] in first_line:
                    raise _Invalid(
                        "sku",
                        f"duplicate SKU '{clean['sku']}' (first on line "
                        f"{first_line[clean['sku']]})",
                    )
                for variant in clean["variants"]:
                    owner = variant_owner.get(variant["sku"])
                    if owner is not None and owner != clean["sku"]:
                        raise _Invalid(
                            "variants", f"variant SKU '{variant['sku']}' is used by '{owner}'"
                        )
            except _Invalid as error:
                report.invalid += 1
                if len(report.errors) < MAX_ERRORS_REPORTED:
                    report.errors.append(RowError(str(path), line, error.field, error.reason))
                continue
            first_line[clean["sku"]] = line
            for variant in clean["variants"]:
                variant_owner[variant["sku"]] = clean["sku"]
            records.append(_Row(line, clean))
    if report.invalid and not skip_invalid:
        return report
    if records:
        _check_variant_skus_in_database(session, path, records, report)
        if report.invalid and not skip_invalid:
            return report
        records = [r for r in records if r.values is not None]
        report.created, report.updated = upsert_products(
            session, [r.values for r in records], progress
        )
    report.written = True
    return report


def _check_variant_skus_in_database(
    session: Session, path: Path, records: list[_Row], report: ImportReport
) -> None:
    """A variant SKU may not belong to another product already in the shop."""
    owner_of = {v["sku"]: r.values["sku"] for r in records for v in r.values["variants"]}
    taken: dict[str, str] = {}
    for chunk in chunks(list(owner_of), 900):
        rows = session.execute(
            select(ProductVariant.sku, Product.sku)
            .join(Product, Product.id == ProductVariant.product_id)
            .where(ProductVariant.sku.in_(chunk))
        )
        taken.update(dict(rows.all()))
    for row in records:
        clash = next(
            (
                v["sku"]
                for v in row.values["variants"]
                if taken.get(v["sku"], row.values["sku"]) != row.values["sku"]
            ),
            None,
        )
        if clash:
            report.invalid += 1
            report.errors.append(
                RowError(
                    str(path),
                    row.line,
                    "variants",
                    f"variant SKU '{clash}' belongs to product '{taken[clash]}'",
                )
            )
            row.values = None


def _brand_ids(session: Session, names: Iterable[str]) -> dict[str, int]:
    """Brand id for each name (key, Chinese or English name); unknown brands are created."""
    by_name: dict[str, int] = {}
    for brand in session.scalars(select(Brand)):
        for name in (brand.key, brand.name_zh, brand.name_en):
            by_name.setdefault(name.lower(), brand.id)
    for name in sorted(set(names)):
        if name.lower() in by_name:
            continue
        key = _unique_key(session, name)
        brand = Brand(key=key, name_zh=name, name_en=name, synonyms={})
        session.add(brand)
        session.flush()
        by_name[name.lower()] = brand.id
    return {name: by_name[name.lower()] for name in names}


def _unique_key(session: Session, name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "brand"
    key, n = base[:60], 1
    while session.scalar(select(Brand.id).where(Brand.key == key)) is not None:
        n += 1
        key = f"{base[:55]}-{n}"
    return key


PRODUCT_FIELDS = (
    "sku",
    "title_zh",
    "title_en",
    "description_zh",
    "description_en",
    "category_id",
    "brand_id",
    "price",
    "list_price",
    "release_date",
    "rating",
    "sales_count",
    "image_url",
    "product_url",
    "is_active",
)


def upsert_products(
    session: Session, records: list[dict], progress: bool = False
) -> tuple[int, int]:
    """Insert or update validated product records by SKU; returns (created, updated)."""
    from kefu.clock import to_db, utc_now

    brand_ids = _brand_ids(session, [r["brand"] for r in records])
    now = to_db(utc_now())  # the columns hold naive UTC
    existing: dict[str, int] = {}
    for chunk in chunks([r["sku"] for r in records], 900):
        existing.update(
            session.execute(select(Product.sku, Product.id).where(Product.sku.in_(chunk))).all()
        )
    new_rows, updates = [], []
    for record in records:
        row = {k: record[k] for k in PRODUCT_FIELDS if k != "brand_id"}
        row["brand_id"] = brand_ids[record["brand"]]
        row["updated_at"] = now
        row["stock_total"] = sum(v["stock"] for v in record["variants"])
        if record["sku"] in existing:
            updates.append({**row, "id": existing[record["sku"]]})
        else:
            new_rows.append(row)
    with _progress(len(records), "writing", progress) as bar:
        for chunk in chunks(new_rows, 20000):
            bulk_insert(session, Product, chunk)
            bar.update(len(chunk))
        for chunk in chunks(updates, 2000):
            session.bulk_update_mappings(Product, chunk)
            bar.update(len(chunk))
    ids: dict[str, int] = dict(existing)
    for chunk in chunks([r["sku"] for r in new_rows], 900):
        ids.update(
            session.execute(select(Product.sku, Product.id).where(Product.sku.in_(chunk))).all()
        )
    updated_ids = [existing[r["sku"]] for r in records if r["sku"] in existing]
    for chunk in chunks(updated_ids, 900):
        session.execute(delete(ProductVariant).where(ProductVariant.product_id.in_(chunk)))
        session.execute(delete(ProductAttribute).where(ProductAttribute.product_id.in_(chunk)))
    variants = [{**v, "product_id": ids[r["sku"]]} for r in records for v in r["variants"]]
    attributes = [{**a, "product_id": ids[r["sku"]]} for r in records for a in r["attributes"]]
    bulk_insert(session, ProductVariant, variants)
    bulk_insert(session, ProductAttribute, attributes)
    reindex_products(session, [ids[r["sku"]] for r in records], refresh_stock=False)
    return len(new_rows), len(updates)


# ----------------------------------------------------------------------------- export


def export_records(session: Session) -> Iterator[dict[str, Any]]:
    """Every product as an import record (round-trips through :func:`import_catalog`)."""
    tree = CategoryTree.load(session)
    brands = {b.id: b.key for b in session.scalars(select(Brand))}
    last_id = 0
    while True:
        products = session.scalars(
            select(Product).where(Product.id > last_id).order_by(Product.id).limit(1000)
        ).all()
        if not products:
            return
        ids = [p.id for p in products]
        variants: dict[int, list[ProductVariant]] = {}
        for v in session.scalars(
            select(ProductVariant)
            .where(ProductVariant.product_id.in_(ids))
            .order_by(ProductVariant.id)
        ):
            variants.setdefault(v.product_id, []).append(v)
        attributes: dict[int, list[ProductAttribute]] = {}
        for a in session.scalars(
            select(ProductAttribute)
            .where(ProductAttribute.product_id.in_(ids))
            .order_by(ProductAttribute.key)
        ):
            attributes.setdefault(a.product_id, []).append(a)
        for p in products:
            yield _export_record(p, tree, brands, variants.get(p.id, []), attributes.get(p.id, []))
        last_id = ids[-1]


def _export_record(
    p: Product,
    tree: CategoryTree,
    brands: dict[int, str],
    variants: list[ProductVariant],
    attributes: list[ProductAttribute],
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "sku": p.sku,
        "title_zh": p.title_zh,
        "title_en": p.title_en,
        "description_zh": p.description_zh,
        "description_en": p.description_en,
        "category": tree.by_id[p.category_id].key,
        "brand": brands[p.brand_id],
        "price": str(p.price),
        "list_price": str(p.list_price) if p.list_price is not None else "",
        "release_date": p.release_date.isoformat() if p.release_date else "",
        "rating": str(p.rating) if p.rating is not None else "",
        "sales_count": p.sales_count,
        "image_url": p.image_url or "",
        "product_url": p.product_url or "",
        "active": "yes" if p.is_active else "no",
        "attributes": {a.key: {"zh": a.value_zh, "en": a.value_en} for a in attributes},
    }
    simple = (
        len(variants) == 1
        and variants[0].sku == p.sku
        and not any(
            (variants[0].color_zh, variants[0].color_en, variants[0].size, variants[0].storage)
        )
    )
    if simple and variants[0].price == p.price:
        record["stock"] = variants[0].stock
        record["variants"] = None
    else:
        record["stock"] = ""
        record["variants"] = [
            {
                k: v
                for k, v in {
                    "sku": variant.sku,
                    "color_zh": variant.color_zh,
                    "color_en": variant.color_en,
                    "size": variant.size,
                    "storage": variant.storage,
                    "price": str(variant.price),
                    "stock": variant.stock,
                }.items()
                if v is not None
            }
            for variant in variants
        ]
    return record


def write_export(records: Iterable[dict[str, Any]], out: io.TextIOBase, fmt: str) -> int:
    """Write records as ``csv`` or ``jsonl``; returns the number of products."""
    count = 0
    if fmt == "jsonl":
        for record in records:
            clean = {k: v for k, v in record.items() if v not in ("", None)}
            out.write(json.dumps(clean, ensure_ascii=False) + "\n")
            count += 1
        return count
    if fmt != "csv":
        raise ValueError(f"unknown export format '{fmt}'")
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        row = dict(record)
        for key in ("attributes", "variants"):
            value = row.get(key)
            row[key] = json.dumps(value, ensure_ascii=False) if value else ""
        writer.writerow(row)
        count += 1
    return count


__all__ = [
    "COLUMNS",
    "CatalogFileError",
    "ImportReport",
    "RowError",
    "export_records",
    "import_catalog",
    "upsert_products",
    "write_export",
]
