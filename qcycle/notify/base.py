"""The :class:`Channel` base class: one configured destination, sending through apprise.

A subclass per way of reaching people (one module each) says its kind, URL schemas, default
rate and, for qcycle's own schemas, the handler that sends (see :mod:`qcycle.notify.handlers`).

``send`` never raises: every failure is a :class:`~qcycle.notify.results.SendResult` with
``ok=False``, ``retryable`` saying whether trying again later may help, and an ``error`` with
secrets masked. Constructing a channel from a bad URL raises
:class:`~qcycle.errors.DeliveryError`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import apprise

from qcycle.errors import DeliveryError
from qcycle.notify.handlers import Handler, apprise_asset, ensure_schemas, register_handler
from qcycle.notify.parts import Framing, Part
from qcycle.notify.ratelimit import Rate
from qcycle.notify.redact import LOGGER_NAME, register_url_secrets
from qcycle.notify.results import CURRENT_CALL, Call, SendResult, failure_from_exception

__all__ = ["Channel", "digest"]

log = logging.getLogger(LOGGER_NAME)


def digest(*parts: str) -> str:
    """A short, non-secret name for an endpoint (its URL parts hashed)."""
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:10]


class Channel:
    """One configured destination. ``send`` never raises; ``repr`` shows no secret."""

    kind: ClassVar[str]
    schemas: ClassVar[tuple[str, ...]]
    default_rate: ClassVar[Rate | None] = None
    # How many sends to one endpoint may be in flight at once (bots: one, in order).
    parallel: ClassVar[int] = 1
    # Writes on this machine (the sink): nothing is ever in flight over a network, and a send
    # is cheaper than handing it to a worker thread.
    local: ClassVar[bool] = False
    # Whether one apprise sender per thread serves every message (the URL is fixed).
    reuse_sender: ClassVar[bool] = True
    _body_format: ClassVar[str | None] = None

    def __init_subclass__(cls, handler: Handler | None = None, **kwargs: Any) -> None:
        """``class WeComChannel(Channel, handler=send_wecom)``: the function that sends for
        the class's schemas (qcycle's own; without one an apprise plugin sends, e.g. mailto)."""
        super().__init_subclass__(**kwargs)
        if handler is not None:
            for schema in cls.schemas:
                register_handler(schema, cls.kind, handler)

    def __init__(self, url: str) -> None:
        ensure_schemas()
        register_url_secrets(url)
        parts = urlsplit(url)
        if parts.scheme.lower() not in self.schemas:
            raise DeliveryError(f"{self.kind} 渠道的地址应以 {'/'.join(self.schemas)}:// 开头")
        self.__url = url
        self._kept = threading.local()
        query = dict(parse_qsl(parts.query))
        self.markdown = query.get("format", "").lower() == "markdown"  # bots: ?format=markdown
        try:
            self.rate: Rate | None = (
                Rate.parse(query["rate"]) if "rate" in query else self.default_rate
            )
        except DeliveryError as exc:
            raise DeliveryError(f"{self.kind} 渠道地址：{exc}") from None
        self.endpoint = f"{self.kind}:{self._endpoint_id(parts)}"
        if self._instantiate(self._apprise_url(None)) is None:
            raise DeliveryError(f"{self.kind} 渠道地址无效（详见 apprise 的日志）")

    # What identifies the remote endpoint for rate limiting (not secret: a digest).
    def _endpoint_id(self, parts: Any) -> str:
        return digest(parts.netloc, parts.path)

    def _url(self) -> str:
        """The secret-bearing URL: for building requests only, never for display."""
        return self.__url

    def _apprise_url(self, recipient: str | None) -> str:
        return self.__url

    def _instantiate(self, url: str) -> Any:
        """The apprise plugin instance for ``url``; None if apprise rejects the URL."""
        return apprise.Apprise.instantiate(url, asset=apprise_asset())

    def _sender(self, recipient: str | None, call: Call) -> apprise.Apprise | None:
        """An Apprise object holding this channel's plugin; None if apprise rejects the URL.

        Kept per thread when the URL does not depend on the message (``reuse_sender``):
        building it per message cost ~40 % of a bot send to a local server. Our handlers take
        everything per call from ``CURRENT_CALL`` and keep no state in the plugin."""
        kept = getattr(self._kept, "sender", None) if self.reuse_sender else None
        if kept is not None:
            return kept
        plugin = self._instantiate(self._apprise_url(recipient))
        if plugin is None:
            return None
        self._prepare(plugin, call)
        sender = apprise.Apprise(asset=apprise_asset())
        sender.add(plugin)
        if self.reuse_sender:
            self._kept.sender = sender
        return sender

    def framing(self) -> Framing | None:
        """How the service frames a message and how many bytes of it it takes (bots); None: no limit."""
        return None

    def parts(self, subject: str, body: str, parts_sent: int = 0, sent_chars: int = 0) -> list[Part]:
        """The sends a message takes: one, or for a bot several posts in order when it is longer than
        the service takes, of what is left after the posts that arrived (:meth:`Framing.parts`)."""
        framing = self.framing()
        if framing is None:
            return [Part(subject, body, len(body))]
        return framing.parts(subject, body, parts_sent, sent_chars)

    def _prepare(self, plugin: Any, call: Call) -> None:
        """Adjust the apprise plugin instance before sending (email: capture its log)."""

    def close(self) -> None:
        """Release what sends keep open between messages (email: idle SMTP connections);
        ``deliver_batch`` calls it when the batch ends."""

    def _refuse(self, recipient: str | None) -> SendResult | None:
        """A failure to return without sending, e.g. a bad recipient."""
        return None

    def _unexplained_failure(self, call: Call) -> SendResult:
        return SendResult.failure(
            f"{self.kind}: apprise reported failure: {call.explain()}", retryable=True
        )

    def send(
        self,
        subject: str,
        body: str,
        *,
        recipient: str | None = None,
        tag: str | None = None,
        message_id: str | None = None,
    ) -> SendResult:
        """Deliver one message; the detailed outcome, never an exception."""
        try:
            refused = self._refuse(recipient)
            if refused is not None:
                return self._logged(refused, message_id)
            call = Call(kind=self.kind, message_id=message_id, tag=tag, recipient=recipient)
            token = CURRENT_CALL.set(call)
            try:
                sender = self._sender(recipient, call)
                if sender is None:
                    return self._logged(
                        SendResult.failure(f"{self.kind}: channel URL rejected", retryable=False),
                        message_id,
                    )
                ok = sender.notify(body=body, title=subject, body_format=self._body_format)
            finally:
                CURRENT_CALL.reset(token)
            if call.result is not None:
                result = call.result
            elif ok:
                result = SendResult.success()
            else:
                result = self._unexplained_failure(call)
        except Exception as exc:  # noqa: BLE001 - send never raises into the caller
            result = failure_from_exception(self.kind, exc)
        return self._logged(result, message_id)

    def send_many(self, messages: Sequence[Any]) -> list[SendResult]:
        """Send messages (each with ``id``, ``subject``, ``body``, ``recipient``, ``tag``) one by
        one, their results in order; a local channel writes them in one go instead."""
        return [self.send(m.subject, m.body, recipient=m.recipient, tag=m.tag, message_id=m.id) for m in messages]

    def _logged(self, result: SendResult, message_id: str | None) -> SendResult:
        if result.ok:
            log.debug("sent %s via %s", message_id, self.endpoint)
        else:
            log.warning(
                "send %s via %s failed (%s): %s",
                message_id,
                self.endpoint,
                "retryable" if result.retryable else "permanent",
                result.error,
            )
        return result

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self.endpoint!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # Pickling would carry the URL; channels are rebuilt from their reference instead.
        raise TypeError(f"{type(self).__name__} is not picklable; pass its reference (env:NAME)")
