"""Rasa's Pika (RabbitMQ) event broker, with a turn's events on RabbitMQ before its reply.

Rasa's broker publishes each event in a background task, so a reply can reach the customer while
the turn's events are still in the instance's memory: an instance that dies then loses them
(tests/cluster/ saw it).  :class:`PikaEventBroker` can be flushed: :func:`install` makes
``MessageProcessor.save_tracker`` wait, after saving, until RabbitMQ has confirmed every pending
publish (aio-pika channels use publisher confirms), at most ``FLUSH_SECONDS``.  A turn's reply
is sent only after that, so what a customer saw answered is on the broker too.

Every event leaves the process sealed (:mod:`kefu.privacy.broker_events`: the conversation id
as a keyed hash, the event type and time readable, the rest AES-256-GCM under the data key of
``KEFU_DATA_KEY`` or the key file).  The event is sealed where Rasa's ``publish`` receives it,
so what Rasa logs about a publish, and the messages it keeps while RabbitMQ is away, are sealed
too; Rasa's publisher confirms, its retries and :meth:`PikaEventBroker.flush` are unchanged.
Without a data key (production) the broker, and so the server, does not start.
"""

from __future__ import annotations

import asyncio
import logging
from functools import wraps
from typing import Any

from rasa.core.brokers.pika import PikaEventBroker as RasaPikaEventBroker

from kefu.privacy.broker_events import seal_event
from kefu.privacy.cipher import Cipher
from kefu.privacy.keys import load_keyring

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
_INSTALLED = "_kefu_flushes_events"


class PikaEventBroker(RasaPikaEventBroker):
    """Rasa's Pika broker that publishes events sealed and whose pending publishes can be
    awaited (``flush``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.cipher = Cipher(load_keyring())  # KeyConfigError first: never events in clear
        super().__init__(*args, **kwargs)

    def publish(self, event: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        """Publish ``event`` sealed (one Rasa publishes again after a lost connection is
        sealed already and goes as it is)."""
        super().publish(seal_event(event, self.cipher), headers)

    async def flush(self, timeout: float = FLUSH_SECONDS) -> bool:
        """Wait until every publish started so far is confirmed; False on timeout (logged:
        the events stay queued in memory and go out when RabbitMQ is back)."""
        pending = set(self._background_tasks)
        if not pending:
            return True
        _, late = await asyncio.wait(pending, timeout=timeout)
        if late:
            logger.warning(
                "event broker: %d events not confirmed within %.0f s", len(late), timeout
            )
        return not late


def _flushed(save_tracker: Any) -> Any:
    @wraps(save_tracker)
    async def save(self: Any, tracker: Any) -> None:
        await save_tracker(self, tracker)
        broker = getattr(self.tracker_store, "event_broker", None)
        flush = getattr(broker, "flush", None)
        if flush is not None:
            await flush()

    return save


def install() -> None:
    """Make every ``MessageProcessor`` flush the broker after saving a tracker (once)."""
    from rasa.core.processor import MessageProcessor

    if getattr(MessageProcessor, _INSTALLED, False):
        return
    MessageProcessor.save_tracker = _flushed(MessageProcessor.save_tracker)
    setattr(MessageProcessor, _INSTALLED, True)
