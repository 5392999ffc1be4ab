"""The report's SVG charts: valid XML, escaped labels, CJK text, sensible sizes."""

import base64
import xml.etree.ElementTree as ET

import pytest

from kefu.report import charts

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(\"x\")</script> & 'quotes' \x00\x1b"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def every_chart(items):
    return [
        charts.bar_chart(items, "bars"),
        charts.column_chart(items, "columns"),
        charts.histogram(items, "histogram"),
        charts.pie_chart(items, "pie"),
    ]


@pytest.mark.parametrize("index", range(4))
def test_charts_are_valid_svg_with_their_labels(index):
    items = [("手机 Phones", 12), ("笔记本 Laptops", 5), ("headphones", 0)]
    root = parse(every_chart(items)[index])
    written = " ".join(texts(root))
    assert "手机 Phones" in written or "手机" in written
    assert root.find(f"{SVG}title") is not None
    assert float(root.get("width")) > 0 and float(root.get("height")) > 0


@pytest.mark.parametrize("index", range(4))
def test_script_in_a_label_does_not_survive(index):
    svg = every_chart([(HOSTILE, 3), ("ok", 1)])[index]
    assert "<script" not in svg
    root = parse(svg)
    assert not [e for e in root.iter() if e.tag.lower().endswith("script")]
    assert any("<script>" in t for t in texts(root))  # shown as text, escaped in the source
    assert "&lt;script&gt;" in svg


def test_title_and_quotes_are_escaped():
    svg = charts.bar_chart([("a", 1)], title='"><script>bad()</script>')
    root = parse(svg)
    assert root.find(f"{SVG}title").text == '"><script>bad()</script>'
    assert "<script" not in svg


@pytest.mark.parametrize("index", range(4))
def test_no_data_is_a_chart_that_says_so(index):
    root = parse(every_chart([])[index])
    assert charts.NO_DATA in texts(root)


def test_pie_of_zeros_says_no_data_and_a_single_slice_is_a_circle():
    assert charts.NO_DATA in texts(parse(charts.pie_chart([("a", 0), ("b", 0)])))
    root = parse(charts.pie_chart([("only", 4), ("none", 0)]))
    assert root.find(f"{SVG}circle") is not None
    assert any("only 4 (100%)" in t for t in texts(root))


def test_bar_lengths_follow_the_values():
    root = parse(charts.bar_chart([("a", 10), ("b", 5), ("c", 0)]))
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(2 * widths[1]) and widths[2] == 0


def test_negative_nan_and_missing_values_are_drawn_as_zero():
    root = parse(charts.column_chart([("a", -3), ("b", float("nan")), ("c", None), ("d", 2)]))
    heights = [float(r.get("height")) for r in root.iter(f"{SVG}rect")]
    assert heights[:3] == [0, 0, 0] and heights[3] > 0


def test_long_labels_are_cut_to_fit():
    label = "非常非常长的商品类别名称" * 5
    root = parse(charts.bar_chart([(label, 1)]))
    shown = texts(root)[0]
    assert shown.endswith("…") and len(shown) < len(label)
    assert charts.text_width("中文") == 2 * charts.FONT_SIZE
    assert charts.text_width("ab") == pytest.approx(1.2 * charts.FONT_SIZE)


def test_many_days_write_only_some_labels():
    days = [(f"11-{d:02d}", d % 4) for d in range(1, 31)]
    root = parse(charts.column_chart(days, width=400))
    labels = [t for t in texts(root) if t.startswith("11-")]
    assert 2 <= len(labels) < 30


def test_data_uri_holds_the_svg():
    svg = charts.bar_chart([("手机", 1)])
    uri = charts.data_uri(svg)
    assert uri.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]).decode("utf-8") == svg
