import base64
import hashlib
import hmac
import json
import re

import pytest

from kefu.identity import (
    IdentityError,
    IdentitySecretError,
    TokenExpired,
    TokenForged,
    TokenMalformed,
    find_order_number,
    identity_secret,
    issue_token,
    mask_address,
    mask_email,
    mask_name,
    mask_phone,
    parse_order_number,
    parse_phone_last4,
    pseudonymise,
    redact,
    verify_token,
)
from kefu.text import fold_width

SECRET = "s" * 32
OTHER_SECRET = "o" * 32
NOW = 1_750_000_000


def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _token(header: dict | bytes, payload: dict | bytes, secret: str = SECRET) -> str:
    """A token built by hand, signed with HMAC-SHA256 whatever its header says."""
    signing_input = f"{_b64(header)}.{_b64(payload)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


HS256 = {"alg": "HS256", "typ": "JWT"}
CLAIMS = {"sub": "42", "iat": NOW, "exp": NOW + 600}


# ---- tokens ------------------------------------------------------------------------------------


def test_token_round_trip():
    token = issue_token(42, SECRET, ttl_seconds=600, now=NOW)
    assert verify_token(token, SECRET, now=NOW + 599) == 42
    assert verify_token(_token(HS256, CLAIMS), SECRET, now=NOW) == 42


def test_tokens_from_a_standard_jwt_library_are_accepted_and_vice_versa():
    jwt = pytest.importorskip("jwt")
    assert verify_token(jwt.encode(CLAIMS, SECRET, algorithm="HS256"), SECRET, now=NOW) == 42
    decoded = jwt.decode(
        issue_token(42, SECRET, now=NOW),
        SECRET,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert decoded == {"sub": "42", "iat": NOW, "exp": NOW + 3600}


def test_expired_token_within_and_beyond_leeway():
    token = issue_token(42, SECRET, ttl_seconds=600, now=NOW)
    assert verify_token(token, SECRET, now=NOW + 620) == 42  # 30 s leeway for clock skew
    with pytest.raises(TokenExpired):
        verify_token(token, SECRET, now=NOW + 630)
    with pytest.raises(TokenExpired):
        verify_token(token, SECRET, now=NOW + 601, leeway=0)


def test_forged_signature():
    with pytest.raises(TokenForged):
        verify_token(issue_token(42, OTHER_SECRET, now=NOW), SECRET, now=NOW)


def test_tampered_payload():
    header, _, signature = issue_token(42, SECRET, now=NOW).split(".")
    tampered = f"{header}.{_b64(dict(CLAIMS, sub='1'))}.{signature}"
    with pytest.raises(TokenForged):
        verify_token(tampered, SECRET, now=NOW)


@pytest.mark.parametrize("alg", ["none", "None", "HS512", "RS256", None])
def test_only_hs256_is_accepted(alg):
    header = {"typ": "JWT"} if alg is None else {"alg": alg, "typ": "JWT"}
    with pytest.raises(TokenForged):
        verify_token(_token(header, CLAIMS), SECRET, now=NOW)


def test_unsigned_alg_none_token():
    unsigned = f"{_b64({'alg': 'none'})}.{_b64(CLAIMS)}."
    with pytest.raises(IdentityError):
        verify_token(unsigned, SECRET, now=NOW)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "a.b.",
        "!!!.???.***",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.x y",
        *(
            f"{_b64(header)}.{_b64(CLAIMS)}.c2ln"
            for header in (
                b"not json",
                b"[1, 2]",
                b"\xff\xfe",  # not UTF-8
                b'{"alg": "none", "alg": "HS256"}',  # a repeated member
            )
        ),
        "x" * 5000,
        None,
    ],
)
def test_malformed_tokens(token):
    with pytest.raises(TokenMalformed):
        verify_token(token, SECRET, now=NOW)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'"a string"',
        {"iat": NOW, "exp": NOW + 60},  # no sub
        dict(CLAIMS, sub=42),  # sub must be a string
        dict(CLAIMS, sub="0"),
        dict(CLAIMS, sub="-3"),
        dict(CLAIMS, sub="42abc"),
        {"sub": "42", "iat": NOW},  # no exp
        dict(CLAIMS, exp="tomorrow"),
        dict(CLAIMS, exp=True),
        b'{"sub": "42", "exp": NaN}',
        b'{"sub": "42", "exp": 1e999}',
    ],
)
def test_genuine_tokens_with_bad_claims_are_malformed(payload):
    with pytest.raises(TokenMalformed):
        verify_token(_token(HS256, payload), SECRET, now=NOW)


def test_token_issued_in_the_future_or_not_yet_valid():
    future = issue_token(42, SECRET, ttl_seconds=3600, now=NOW + 60)
    assert verify_token(future, SECRET, now=NOW + 31) == 42
    with pytest.raises(TokenMalformed, match="future"):
        verify_token(future, SECRET, now=NOW)
    with pytest.raises(TokenMalformed, match="not valid yet"):
        verify_token(_token(HS256, dict(CLAIMS, nbf=NOW + 60)), SECRET, now=NOW)


def test_critical_header_extensions_are_refused():
    with pytest.raises(TokenMalformed):
        verify_token(_token(dict(HS256, crit=["exp"]), CLAIMS), SECRET, now=NOW)


def test_short_secret_is_refused_clearly():
    with pytest.raises(IdentitySecretError, match="31 bytes long; at least 32"):
        issue_token(42, "s" * 31)
    with pytest.raises(IdentitySecretError, match="at least 32"):
        verify_token(issue_token(42, SECRET), "short")


@pytest.mark.parametrize("customer_id", [0, -1, True, "42"])
def test_issue_token_wants_a_positive_customer_id(customer_id):
    with pytest.raises(ValueError):
        issue_token(customer_id, SECRET)


def test_identity_secret_from_environment(monkeypatch):
    monkeypatch.delenv("KEFU_IDENTITY_SECRET", raising=False)
    with pytest.raises(IdentitySecretError, match="KEFU_IDENTITY_SECRET is not set"):
        identity_secret()
    monkeypatch.setenv("KEFU_IDENTITY_SECRET", "too short")
    with pytest.raises(IdentitySecretError, match="at least 32"):
        identity_secret()
    monkeypatch.setenv("KEFU_IDENTITY_SECRET", SECRET)
    assert identity_secret() == SECRET


def test_secret_errors_are_not_token_rejections():
    assert not issubclass(IdentitySecretError, IdentityError)


# ---- what customers type -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2507021316645123",
        "２５０７０２１３１６６４５１２３",
        "2507 0213 1664 5123",
        "２５０７\u3000０２１３ １６６４ ５１２３",
        "250702-1316-645123",
        "250702 - 1316 - 645123",
        "250702－1316－645123",
        "订单号：2507021316645123",
        "order #2507021316645123",
        "Order No.2507021316645123",
        "我的订单2507021316645123到哪了",
        "my order 2507021316645123 hasn't arrived",
        "电话13812345678，订单2507021316645123",
        "+86 138 1234 5678 2507 0213 1664 5123",
        "2507021316645123 尾号6093",
    ],
)
def test_order_numbers_in_any_common_format(text):
    assert parse_order_number(text) == "2507021316645123"
    number, start, end = find_order_number(text)
    assert number == "2507021316645123"
    assert re.sub(r"\D", "", fold_width(text[start:end])) == number  # the span is the number


@pytest.mark.parametrize(
    "text",
    [
        "",
        "你好",
        "13812345678",  # a mobile phone
        "138 1234 5678",
        "+86 138-1234-5678",
        "订单123456",  # too short
        "3000到5000的手机",  # a budget
        "预算3k-5k",
        "250702316645123456",  # 18 digits: longer than an order number, no part of it taken
        "25070213166451234",  # 17 digits
        "2513021316645123",  # month 13: not a creation time
        "2507321316645123",  # 32 July
        "2507022516645123",  # 25 o'clock
        "6222021234567890",  # a bank card number
        "2507\n0213 1664 5123",  # a line break splits the number
    ],
)
def test_not_order_numbers(text):
    assert parse_order_number(text) is None
    assert find_order_number(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "尾号6093",
        "手机尾号是6093",
        "尾号：６０９３",
        "手机后四位 6093",
        "后4位是6093",
        "last 4 digits are 6093",
        "The last four digits of my phone are 6093.",
        "it ends with 6093",
        "6093",
        "６０９３",
        " 6093。",
        "是6093",
        "我的手机是13912346093",
        "订单2507021316645123，尾号6093",
    ],
)
def test_phone_last4(text):
    assert parse_phone_last4(text) == "6093"


@pytest.mark.parametrize(
    "text",
    ["", "你好", "我2024年买的", "尾号60931", "60931", "609", "2507021316645123", "3000以内"],
)
def test_no_phone_last4(text):
    assert parse_phone_last4(text) is None


# ---- privacy -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("１３８１２３４５６７８", "138****5678"),
        ("021-61234567", "021****4567"),
        ("61234567", "****4567"),
        ("12345", "*****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("zhang.san@example.com", "z***@example.com"),
        ("a@qq.com", "a***@qq.com"),
        ("not an email", "***"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_email(email, masked):
    assert mask_email(email) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三丰", "张**"),
        ("李四", "李*"),
        ("欧阳 修", "欧**"),
        ("王", "*"),
        ("John Smith", "J*** Smith"),
        ("Mary Ann Lee", "M*** A*** Lee"),
        ("Madonna", "M***"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked


def test_mask_address_keeps_the_area_and_hides_the_rest():
    address = {
        "recipient": "张三",
        "phone": "13812345678",
        "province": "广东省",
        "city": "深圳市",
        "district": "南山区",
        "detail": "科技园路88号3栋1201室",
    }
    assert mask_address(address) == "广东省深圳市南山区****"
    municipality = {"province": "上海市", "city": "上海市", "district": "", "detail": "x路1号"}
    assert mask_address(municipality) == "上海市****"
    assert mask_address({"province": "Guangdong", "city": "Shenzhen"}) == "Guangdong Shenzhen ****"
    assert mask_address({}) == ""
    assert mask_address(None) == ""


def test_redact_masks_phones_and_emails_in_free_text():
    text = "我的手机+86 13812345678，邮箱zhang.san@example.com，订单2507021316645123"
    assert redact(text) == "我的手机138****5678，邮箱z***@example.com，订单2507021316645123"
    assert redact(None) == ""


def test_pseudonyms_are_stable_keyed_and_opaque():
    first = pseudonymise("13812345678", SECRET)
    assert first == pseudonymise("13812345678", SECRET)
    assert len(first) == 16 and "5678" not in first
    assert first != pseudonymise("13812345679", SECRET)
    assert first != pseudonymise("13812345678", OTHER_SECRET)
    assert pseudonymise(42, SECRET) == pseudonymise("42", SECRET)
    with pytest.raises(IdentitySecretError):
        pseudonymise("x", "short")


def test_logging_out_forgets_the_customer_but_not_orders_proven_by_phone():
    from kefu.identity import VerificationState

    state = VerificationState(customer_id=7, verified_orders=("20261103145522",))
    out = state.logged_out()
    assert out.customer_id is None
    assert out.verified_orders == ("20261103145522",)
