"""WeChat Official Account (微信公众号) channel: ``/webhooks/wechat/webhook``.

WeChat pushes each customer message to the server URL and waits five seconds for an answer.
The bot runs with an output channel that collects what it says; if it is done within
``reply_timeout`` the texts go back in the HTTP response as one passive reply.  If it is still
working, WeChat gets "success" at once and everything the bot says from then on is sent through
the customer-service message API (客服消息), with an access token shared by all requests.

Requests are checked before the bot sees anything: signature, timestamp window, replayed
signatures, body size and hardened XML (``kefu/wechat.py``).  WeChat's retries (same MsgId, or
the same signed request resent byte for byte) are answered with "success" and reach the bot
once; a captured signature reused with another body is refused (403).  With
``encoding_aes_key`` set the channel runs in safe mode (安全模式): it only accepts encrypted
requests and encrypts its replies.  Every message passes kefu's guard (``guard.py``: the
conversation id ``wechat:<OpenID>``, rate limits, length, commands, metadata).  Logs name
customers by a pseudonym (a short SHA-256 prefix of the OpenID) and never contain message texts
or secrets.

credentials.yml::

    kefu_rasa.channels.wechat.WeChatInput:
      token: ${WECHAT_TOKEN}               # Token from the WeChat console (3-32 letters/digits)
      app_id: ${WECHAT_APP_ID}             # AppID: customer-service API and safe mode
      app_secret: ${WECHAT_APP_SECRET}     # AppSecret: for the access token
      encoding_aes_key: ${WECHAT_AES_KEY}  # optional: 43 characters, enables safe mode
      # optional: api_base (https://api.weixin.qq.com), reply_timeout (4.5), max_body_bytes
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from kefu.wechat import (
    MAX_BODY_BYTES,
    TOKEN_ERRCODES,
    DecryptError,
    MalformedMessage,
    MessageTooLarge,
    ReplayedRequest,
    SignatureError,
    StaleRequest,
    WeChatCrypto,
    WeChatMessage,
    WeChatProtocolError,
    parse_message,
    split_for_wechat,
    text_reply,
    verify_request,
)
from kefu.wechat_state import wechat_state
from kefu_rasa.channels.guard import guarded, pseudonym, scoped_output, system_message

logger = logging.getLogger(__name__)

Handler = Callable[[UserMessage], Awaitable[Any]]

DEFAULT_API_BASE = "https://api.weixin.qq.com"
DEFAULT_REPLY_TIMEOUT = 4.5  # WeChat gives up (and retries) after 5 s
GREET_PAYLOAD = "/greet"
TEXT_ONLY_REPLY = (
    "目前我只能看懂文字消息，请用文字描述您的问题。 / "
    "I can only read text messages for now — please type your question."
)
SUCCESS = "success"  # "received, no passive reply": WeChat neither retries nor shows an error
API_TIMEOUT = aiohttp.ClientTimeout(total=10)
SHUTDOWN_GRACE_SECONDS = 10.0
FOLLOW_UP_DELAY = 0.5  # seconds between a passive reply and the rest of a long answer
CREDENTIAL_KEYS = (
    "token",
    "app_id",
    "app_secret",
    "encoding_aes_key",
    "api_base",
    "reply_timeout",
    "max_body_bytes",
)
_TOKEN_FORMAT = re.compile(r"[A-Za-z0-9]{3,32}")
_ERRCODE_HINTS = {
    40013: "app_id is not a valid AppID",
    40125: "app_secret is wrong",
    40164: "this server's IP address is not on the account's IP whitelist",
}
_STATUS = {SignatureError: 403, StaleRequest: 403, ReplayedRequest: 403, MessageTooLarge: 413}
_OPENID_PARAM = re.compile(r"([?&]openid=)([^&\s]*)")


class _PseudonymiseOpenIds(logging.Filter):
    """Sanic's access log prints the URL, and WeChat puts the customer's OpenID in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        url = getattr(record, "request", None)
        if isinstance(url, str) and "openid=" in url:
            record.request = _OPENID_PARAM.sub(lambda m: m[1] + pseudonym(m[2]), url)
        return True


def _pseudonymise_access_log() -> None:
    access_log = logging.getLogger("sanic.access")
    if not any(isinstance(f, _PseudonymiseOpenIds) for f in access_log.filters):
        access_log.addFilter(_PseudonymiseOpenIds())


class WeChatAPIError(Exception):
    """WeChat's API answered with an error (or not at all)."""


# --- output ----------------------------------------------------------------------------------


class _TextOutput(OutputChannel):
    """Renders the bot's responses as plain text, the only kind this channel sends."""

    @classmethod
    def name(cls) -> str:
        return WeChatInput.name()

    async def _emit(self, recipient_id: str, text: str) -> None:
        raise NotImplementedError

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        if text and text.strip():
            await self._emit(recipient_id, text.strip())

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        titles = [str(button.get("title") or "").strip() for button in buttons]
        lines = [text] if text else []
        lines += [f"{n}. {title}" for n, title in enumerate(titles, 1) if title]
        await self.send_text_message(recipient_id, "\n".join(lines))

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        text = json_message.get("text") if isinstance(json_message, dict) else None
        if isinstance(text, str):
            await self.send_text_message(recipient_id, text)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, image)


class _TurnOutput(_TextOutput):
    """Collects one turn's texts for the passive reply, or queues them once the reply is gone."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._late: asyncio.Queue[str | None] | None = None

    async def _emit(self, recipient_id: str, text: str) -> None:
        if self._late is None:
            self.texts.append(text)
        else:
            self._late.put_nowait(text)

    def go_late(self) -> asyncio.Queue[str | None]:
        """From now on queue texts for the API, starting with those collected so far."""
        if self._late is None:
            self._late = asyncio.Queue()
            for text in self.texts:
                self._late.put_nowait(text)
            self.texts = []
        return self._late


class WeChatApiOutput(_TextOutput):
    """Sends through the customer-service API (used for messages Rasa sends on its own)."""

    def __init__(self, channel: WeChatInput) -> None:
        self._channel = channel

    async def _emit(self, recipient_id: str, text: str) -> None:
        await self._channel.send_texts(recipient_id, split_for_wechat(text))


# --- input -----------------------------------------------------------------------------------


def _string_setting(value: Any, key: str, *, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"wechat channel: credential '{key}' is required")
        return None
    if not isinstance(value, str):
        raise ValueError(
            f"wechat channel: credential '{key}' must be a string (quote it in credentials.yml)"
        )
    return value.strip()


def _number_setting(value: Any, key: str, default: float) -> float:
    """A number, also from a string (``${VAR}`` substitution in credentials.yml gives strings)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"wechat channel: credential '{key}' must be a number") from None
        return int(number) if number.is_integer() and "." not in value else number
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"wechat channel: credential '{key}' must be a number")
    return value


def _success() -> HTTPResponse:
    return response.text(SUCCESS)


def _refuse(request: Request, exc: Exception, status: int) -> HTTPResponse:
    logger.warning("wechat: refused a request from %s (%d): %s", request.ip, status, exc)
    return response.text("forbidden" if status == 403 else "refused", status=status)


class WeChatInput(InputChannel):
    """Rasa input channel for a WeChat Official Account (plain or safe mode)."""

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> WeChatInput:
        if not credentials:
            raise ValueError("wechat channel: credential 'token' is required")
        unknown = sorted(set(credentials) - set(CREDENTIAL_KEYS))
        if unknown:
            logger.warning("wechat channel: ignoring unknown credential keys %s", unknown)
        return cls(
            token=credentials.get("token"),
            app_id=credentials.get("app_id"),
            app_secret=credentials.get("app_secret"),
            encoding_aes_key=credentials.get("encoding_aes_key"),
            api_base=credentials.get("api_base") or DEFAULT_API_BASE,
            reply_timeout=credentials.get("reply_timeout"),
            max_body_bytes=credentials.get("max_body_bytes"),
        )

    def __init__(
        self,
        token: str | None,
        app_id: str | None = None,
        app_secret: str | None = None,
        encoding_aes_key: str | None = None,
        api_base: str = DEFAULT_API_BASE,
        reply_timeout: float | None = DEFAULT_REPLY_TIMEOUT,
        max_body_bytes: int | None = MAX_BODY_BYTES,
    ) -> None:
        token = _string_setting(token, "token", required=True)
        if not _TOKEN_FORMAT.fullmatch(token or ""):
            raise ValueError(
                "wechat channel: credential 'token' must be the Token set in the WeChat "
                "console: 3 to 32 letters or digits"
            )
        self.token: str = token  # type: ignore[assignment]
        self.app_id = _string_setting(app_id, "app_id")
        self.app_secret = _string_setting(app_secret, "app_secret")
        if bool(self.app_id) != bool(self.app_secret):
            missing = "app_secret" if self.app_id else "app_id"
            raise ValueError(
                f"wechat channel: credential '{missing}' is required with "
                f"'{'app_id' if missing == 'app_secret' else 'app_secret'}'"
            )
        aes_key = _string_setting(encoding_aes_key, "encoding_aes_key")
        self._crypto: WeChatCrypto | None = None
        if aes_key is not None:
            if not self.app_id:
                raise ValueError(
                    "wechat channel: credential 'app_id' is required with 'encoding_aes_key'"
                )
            try:
                self._crypto = WeChatCrypto(self.token, aes_key, self.app_id)
            except ValueError as exc:
                raise ValueError(f"wechat channel: credential 'encoding_aes_key': {exc}") from None
        base = _string_setting(api_base, "api_base") or DEFAULT_API_BASE
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", base):
            raise ValueError("wechat channel: credential 'api_base' must be an http(s) URL")
        self.api_base = base.rstrip("/")
        timeout = _number_setting(reply_timeout, "reply_timeout", DEFAULT_REPLY_TIMEOUT)
        if not 0 < timeout < 5:
            raise ValueError(
                "wechat channel: credential 'reply_timeout' must be between 0 and 5 seconds "
                "(WeChat waits 5 s for a passive reply)"
            )
        self.reply_timeout = float(timeout)
        max_bytes = _number_setting(max_body_bytes, "max_body_bytes", MAX_BODY_BYTES)
        if not isinstance(max_bytes, int) or max_bytes < 1024:
            raise ValueError(
                "wechat channel: credential 'max_body_bytes' must be a whole number >= 1024"
            )
        self.max_body_bytes = max_bytes

        # in this process, or in Redis shared by every instance (KEFU_REDIS_URL)
        state = wechat_state(
            self.app_id, self._fetch_access_token if self.app_id and self.app_secret else None
        )
        self._nonces, self._retries, self._tokens = state.nonces, state.retries, state.tokens
        self._tasks: set[asyncio.Task[Any]] = set()
        if self._tokens is None:
            logger.warning(
                "wechat channel: no app_id/app_secret, so replies that take longer than %.1f s "
                "cannot be delivered",
                self.reply_timeout,
            )

    @property
    def safe_mode(self) -> bool:
        """Whether requests must be encrypted (``encoding_aes_key`` is set)."""
        return self._crypto is not None

    def get_output_channel(self) -> OutputChannel | None:
        """The customer-service API, for messages Rasa sends on its own (an agent's reply to
        the conversation ``wechat:<OpenID>``); None without app_id and app_secret."""
        if self._tokens is None:
            return None
        return scoped_output(WeChatApiOutput(self), self.name())

    # -- routes ------------------------------------------------------------------------------

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        handler = guarded(on_new_message, self.name())
        _pseudonymise_access_log()
        bp = Blueprint("wechat_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["GET"])
        async def verify_url(request: Request) -> HTTPResponse:
            args = request.args
            try:
                verify_request(
                    self.token,
                    args.get("timestamp", ""),
                    args.get("nonce", ""),
                    args.get("signature", ""),
                )
            except WeChatProtocolError as exc:
                return _refuse(request, exc, 403)
            return response.text(
                args.get("echostr", ""),
                content_type="text/plain; charset=utf-8",
                headers={"X-Content-Type-Options": "nosniff"},
            )

        @bp.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request, handler)

        @bp.listener("before_server_stop")
        async def finish_deliveries(*_: Any) -> None:
            await self.drain(SHUTDOWN_GRACE_SECONDS)

        return bp

    async def _receive(self, request: Request, handler: Handler) -> HTTPResponse:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reply_timeout
        try:
            message = await self._authentic_message(request)
        except ReplayedRequest as exc:
            if exc.same_body:  # the same request again: a resend, already being answered
                logger.info("wechat: a signed request arrived again; answered 'success'")
                return _success()
            return _refuse(request, exc, 403)
        except WeChatProtocolError as exc:
            return _refuse(request, exc, _STATUS.get(type(exc), 400))

        who = pseudonym(message.from_user)
        if not await self._retries.first_time(message.dedup_key):
            logger.info("wechat: retry of a message from %s; answered 'success'", who)
            return _success()

        if message.msg_type == "text":
            text = message.content.strip()
            if not text:
                return _success()
        elif message.msg_type == "voice" and message.recognition:
            text = message.recognition  # what WeChat's speech recognition heard
        elif message.msg_type == "event":
            if message.event.lower() != "subscribe":
                logger.debug("wechat: ignored a %s event from %s", message.event, who)
                return _success()
            text = GREET_PAYLOAD
        else:
            logger.info("wechat: %s message from %s answered with text-only", message.msg_type, who)
            return self._passive_reply(message, TEXT_ONLY_REPLY)

        metadata: dict[str, Any] = {"msg_id": message.msg_id or None}
        if message.event:
            metadata["event"] = message.event.lower()
        output = _TurnOutput()
        user_message = UserMessage(
            text,
            output,
            sender_id=message.from_user,
            input_channel=self.name(),
            metadata={"wechat": metadata},
        )
        if text == GREET_PAYLOAD and message.msg_type == "event":
            system_message(user_message)  # the follow event's greeting, not a customer's "/"
        bot = self._spawn(self._run_bot(handler, user_message, who))
        try:
            done, _ = await asyncio.wait({bot}, timeout=max(0.0, deadline - loop.time()))
        except asyncio.CancelledError:  # WeChat hung up: deliver whatever comes later
            self._spawn(self._deliver_late(message.from_user, bot, output.go_late()))
            raise
        if not done:
            logger.info("wechat: reply to %s is late; it goes through the API", who)
            self._spawn(self._deliver_late(message.from_user, bot, output.go_late()))
            return _success()
        parts = split_for_wechat("\n\n".join(output.texts))
        if not parts:
            return _success()
        if len(parts) > 1:
            self._spawn(self._follow_up(message.from_user, parts[1:]))
        return self._passive_reply(message, parts[0])

    async def _authentic_message(self, request: Request) -> WeChatMessage:
        """The request's message after every check; raises ``WeChatProtocolError``."""
        args = request.args
        timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
        if self._crypto is None:
            given = args.get("signature", "")
            verify_request(self.token, timestamp, nonce, given)
            body = await self._read_body(request)
            await self._nonces.check(timestamp, nonce, given, body=body)
            message = parse_message(body, max_bytes=self.max_body_bytes)
            if not message.from_user:
                raise MalformedMessage("an encrypted message, but encoding_aes_key is not set")
            return message

        if args.get("encrypt_type") != "aes":
            raise SignatureError("safe mode is on and the request is not encrypted")
        body = await self._read_body(request)
        envelope = parse_message(body, max_bytes=self.max_body_bytes)
        if not envelope.encrypt:
            raise MalformedMessage("missing fields: Encrypt")
        given = args.get("msg_signature", "")
        verify_request(self.token, timestamp, nonce, given, extra=(envelope.encrypt,))
        await self._nonces.check(timestamp, nonce, given, body=body)
        inner = self._crypto.decrypt(envelope.encrypt)
        message = parse_message(inner, max_bytes=self.max_body_bytes)
        if not message.from_user:
            raise DecryptError("the decrypted message is another envelope")
        return message

    async def _read_body(self, request: Request) -> bytes:
        limit = self.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise MessageTooLarge(f"declared body of {declared} bytes exceeds {limit}")
        if request.stream is None:  # not a streaming request: Sanic has read the body
            body = request.body or b""
            if len(body) > limit:
                raise MessageTooLarge(f"body exceeds {limit} bytes")
            return body
        chunks: list[bytes] = []
        size = 0
        while (chunk := await request.stream.read()) is not None:
            size += len(chunk)
            if size > limit:
                raise MessageTooLarge(f"body exceeds {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _passive_reply(self, message: WeChatMessage, text: str) -> HTTPResponse:
        now = int(time.time())
        xml = text_reply(message.from_user, message.to_user, text, now)
        if self._crypto is not None:
            xml = self._crypto.encrypt_reply(xml, str(now), str(secrets.randbelow(10**10)))
        return response.text(xml, content_type="application/xml; charset=utf-8")

    # -- background work ----------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)  # a task nobody references may be garbage-collected mid-way
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for bot turns and deliveries still running."""
        pending = [task for task in self._tasks if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    @staticmethod
    async def _run_bot(handler: Handler, message: UserMessage, who: str) -> None:
        try:
            await handler(message)
        except Exception:
            logger.exception("wechat: the bot failed on a message from %s", who)

    async def _deliver_late(
        self, openid: str, bot: asyncio.Task[Any], queue: asyncio.Queue[str | None]
    ) -> None:
        """Send what the bot says after the passive reply is gone, until its turn ends."""
        bot.add_done_callback(lambda _: queue.put_nowait(None))
        while True:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            texts = [text for text in batch if text is not None]
            if texts:
                await self.send_texts(openid, split_for_wechat("\n\n".join(texts)))
            if None in batch:
                return

    async def _follow_up(self, openid: str, parts: list[str]) -> None:
        """The rest of a reply too long for one passive message, sent after the first part."""
        # WeChat relays the passive reply once it has our response; sending the rest at once
        # could overtake it, so give it a head start.
        await asyncio.sleep(FOLLOW_UP_DELAY)
        await self.send_texts(openid, parts)

    async def send_texts(self, openid: str, parts: list[str]) -> bool:
        """Send ``parts`` (each within WeChat's limit) in order via the customer-service API.

        Never raises: failures are logged.  Returns whether every part was accepted.
        """
        who = pseudonym(openid)
        if not parts:
            return True
        if self._tokens is None:
            logger.warning(
                "wechat: %d message(s) to %s dropped: set app_id and app_secret to send late "
                "replies",
                len(parts),
                who,
            )
            return False
        async with aiohttp.ClientSession(timeout=API_TIMEOUT) as session:
            for part in parts:
                if not await self._send_custom(session, openid, part, who):
                    return False
        return True

    async def _send_custom(
        self, session: aiohttp.ClientSession, openid: str, text: str, who: str
    ) -> bool:
        assert self._tokens is not None
        payload = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        url = f"{self.api_base}/cgi-bin/message/custom/send"
        for attempt in (1, 2):
            try:
                token = await self._tokens.get()
                async with session.post(
                    url,
                    params={"access_token": token},
                    data=data,
                    headers={"Content-Type": "application/json; charset=utf-8"},
                ) as resp:
                    if resp.status != 200:
                        raise WeChatAPIError(f"HTTP {resp.status}")
                    result = await resp.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, WeChatAPIError) as exc:
                # str(exc) of a client error may contain the URL, with the access token in it
                reason = str(exc) if isinstance(exc, WeChatAPIError) else type(exc).__name__
                logger.warning("wechat: message to %s not sent: %s", who, reason)
                return False
            errcode = result.get("errcode", 0) if isinstance(result, dict) else None
            if errcode == 0:
                return True
            if errcode in TOKEN_ERRCODES and attempt == 1:
                logger.info("wechat: access token rejected (errcode %s); fetching anew", errcode)
                await self._tokens.invalidate(token)
                continue
            logger.warning("wechat: message to %s not sent: errcode %s", who, errcode)
            return False
        return False

    async def _fetch_access_token(self) -> tuple[str, float]:
        params = {
            "grant_type": "client_credential",
            "appid": self.app_id,
            "secret": self.app_secret,
        }
        url = f"{self.api_base}/cgi-bin/token"
        async with (
            aiohttp.ClientSession(timeout=API_TIMEOUT) as session,
            session.get(url, params=params) as resp,
        ):
            if resp.status != 200:
                raise WeChatAPIError(f"token endpoint answered HTTP {resp.status}")
            result = await resp.json(content_type=None)
        if not isinstance(result, dict):
            raise WeChatAPIError("token endpoint answered something other than a JSON object")
        token, expires_in = result.get("access_token"), result.get("expires_in", 7200)
        if not isinstance(token, str) or not token:
            errcode = result.get("errcode")
            hint = _ERRCODE_HINTS.get(errcode) if isinstance(errcode, int) else None
            raise WeChatAPIError(
                f"no access token (errcode {errcode}{': ' + hint if hint else ''})"
            )
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
            expires_in = 7200
        return token, float(expires_in)
