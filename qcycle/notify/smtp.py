"""Email through apprise's mailto plugin over kept SMTP connections.

Apprise's ``NotifyEmail.send`` builds a new SSL context (loading the CA bundle, even for
``mode=insecure``) and opens, greets, authenticates and quits one SMTP connection per message:
~25 messages/s against a local server where one smtplib connection does ~370. :class:`KeptEmail`
is that plugin with only the transport replaced: messages are still built by apprise
(``NotifyEmail.prepare_emails``) and sent through ``Apprise.notify``, but

- SSL contexts are made once per process (one verifying, one not);
- connections are kept open in a pool per endpoint (host, port, TLS mode, login): a send checks
  one out, so an ``smtplib.SMTP`` is only ever used by one thread at a time, and checks it back
  in while it is still usable;
- a kept connection the server has closed meanwhile (idle timeout, restart: disconnect, reset,
  timeout or a 421 reply) is replaced and the message sent once more on a fresh connection,
  but only when the failure came before ``DATA``: no message text has left, so nothing can be
  duplicated. A failure from ``DATA`` on is reported as failed (retryable): the server may or
  may not have the message, and a message counts as sent only when the server accepted it.

Errors are logged exactly as apprise logs them (the channel reads SMTP codes from that log).
:func:`close_kept_connections` closes the idle connections; ``EmailChannel.close`` calls it when a
batch ends, and it runs at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import smtplib
import ssl
import threading
import time
from collections.abc import Hashable
from typing import Any

from apprise.common import NotifyType
from apprise.plugins.email import AppriseEmailException, NotifyEmail, SecureMailMode

__all__ = [
    "POOL",
    "KeptEmail",
    "SmtpPool",
    "close_kept_connections",
    "ssl_context",
]

# A connection idle longer than this is closed instead of reused: servers drop idle clients
# (often after 60-300 s), and a peer that vanished silently would cost a full read timeout
# before the reconnect.
MAX_IDLE_SECONDS = 30.0
# Idle connections kept per endpoint; more than the senders an email lane runs at once.
MAX_IDLE_PER_ENDPOINT = 8
# Seconds to wait for the server's answer to QUIT when closing a kept connection.
QUIT_TIMEOUT = 2.0


# ---------------------------------------------------------------- SSL contexts

_contexts: dict[bool, ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def ssl_context(verify: bool) -> ssl.SSLContext:
    """The process's SSL context for SMTP (loading the CA bundle takes ~10-40 ms)."""
    with _contexts_lock:
        context = _contexts.get(verify)
        if context is None:
            context = ssl.create_default_context()
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            _contexts[verify] = context
        return context


# ---------------------------------------------------------------- connections


class _TracksData:
    """Notes when ``DATA`` starts: a failure before it leaves nothing at the server."""

    data_started = False

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.data_started = True
        return super().data(msg)  # type: ignore[misc]


class _SMTP(_TracksData, smtplib.SMTP):
    pass


class _SMTP_SSL(_TracksData, smtplib.SMTP_SSL):
    pass


_Connection = _SMTP | _SMTP_SSL


class SmtpPool:
    """Idle SMTP connections by endpoint key; a connection is out of the pool while in use."""

    def __init__(
        self,
        max_idle_per_endpoint: int = MAX_IDLE_PER_ENDPOINT,
        max_idle_seconds: float = MAX_IDLE_SECONDS,
    ) -> None:
        self.max_idle_per_endpoint = max_idle_per_endpoint
        self.max_idle_seconds = max_idle_seconds
        self._idle: dict[Hashable, list[tuple[float, _Connection]]] = {}
        self._lock = threading.Lock()
        # A forked child must not talk over its parent's sessions (nor QUIT them).
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._idle = {}
        self._lock = threading.Lock()

    def checkout(self, key: Hashable) -> _Connection | None:
        """The most recently used idle connection for ``key`` (the likeliest to be open)."""
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get(key, [])  # oldest first
            cut = 0
            while cut < len(idle) and now - idle[cut][0] > self.max_idle_seconds:
                cut += 1
            stale = [connection for _, connection in idle[:cut]]
            del idle[:cut]
            found = idle.pop()[1] if idle else None
        for connection in stale:
            _quit(connection)
        return found

    def checkin(self, key: Hashable, connection: _Connection) -> None:
        if connection.sock is None:  # smtplib closed it (421, disconnect)
            return
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.max_idle_per_endpoint:
                idle.append((time.monotonic(), connection))
                return
        _quit(connection)

    def close_idle(self) -> int:
        """Close every idle connection (those in use are left alone); how many were closed."""
        with self._lock:
            idle = [c for entries in self._idle.values() for _, c in entries]
            self._idle.clear()
        for connection in idle:
            _quit(connection)
        return len(idle)


def _quit(connection: _Connection) -> None:
    with contextlib.suppress(OSError, smtplib.SMTPException, RuntimeError):
        if connection.sock is not None:
            # A polite QUIT, but a hung server must not hold up the end of a batch.
            connection.sock.settimeout(QUIT_TIMEOUT)
        connection.quit()
    connection.close()


POOL = SmtpPool()


def close_kept_connections() -> int:
    """Close the idle kept SMTP connections (end of a delivery batch, interpreter exit)."""
    return POOL.close_idle()


atexit.register(close_kept_connections)


# ---------------------------------------------------------------- the plugin

# Failures that are the server's reply to our command: the connection itself is fine (smtplib
# sent RSET) unless smtplib closed it, which it does on 421 ("closing the channel").
_REPLIES = (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused)


class KeptEmail(NotifyEmail):
    """Apprise's email plugin sending over kept connections (see the module docstring)."""

    pool: SmtpPool = POOL

    def _pool_key(self) -> tuple[Any, ...]:
        login = hashlib.sha256(f"{self.user}\x00{self.password}".encode()).hexdigest()
        return (
            self.secure_mode,
            self.smtp_host,
            self.port,
            login,
            bool(self.verify_certificate),
            self.socket_connect_timeout,
        )

    def _connect(self) -> _Connection:
        """A new connection, secured and logged in as apprise's plugin does it."""
        self.logger.debug("Connecting to remote SMTP server...")
        context = None
        if self.secure_mode in (SecureMailMode.SSL, SecureMailMode.STARTTLS):
            context = ssl_context(bool(self.verify_certificate))
        connection: _Connection
        if self.secure_mode == SecureMailMode.SSL:
            self.logger.debug("Securing connection with SSL...")
            connection = _SMTP_SSL(
                self.smtp_host,
                self.port,
                None,
                timeout=self.socket_connect_timeout,
                context=context,
            )
        else:
            connection = _SMTP(self.smtp_host, self.port, None, timeout=self.socket_connect_timeout)
        try:
            if self.secure_mode == SecureMailMode.STARTTLS:
                self.logger.debug("Securing connection with STARTTLS...")
                connection.starttls(context=context)
            if self.user and self.password:
                self.logger.debug("Applying user credentials...")
                connection.login(self.user, self.password)
        except BaseException:
            _quit(connection)
            raise
        return connection

    def send(
        self,
        body: str,
        title: str = "",
        notify_type: str = NotifyType.INFO,
        attach: Any = None,
        **kwargs: Any,
    ) -> bool:
        if not self.targets:
            self.logger.warning("There are no Email recipients to notify")
            return False

        has_error = False
        self.throttle()
        key = self._pool_key()
        headers = {"X-Application": self.app_id}
        headers.update(self.headers)
        try:
            for message in NotifyEmail.prepare_emails(
                subject=title,
                body=body,
                notify_format=self.notify_format,
                from_addr=self.from_addr,
                to=self.targets,
                cc=self.cc,
                bcc=self.bcc,
                reply_to=self.reply_to,
                smtp_host=self.smtp_host,
                attach=attach,
                headers=headers,
                names=self.names,
                pgp=self.pgp,
                pgp_mode=self.pgp_mode,
                inline=self.inline,
                tzinfo=self.tzinfo,
            ):
                if not self._send_one(key, message):
                    has_error = True

        except _ConnectFailed as failed:
            self.logger.warning('Connection error while submitting email to "%s"', self.smtp_host)
            self.logger.debug(f"Socket Exception: {failed.__cause__}")
            has_error = True

        except AppriseEmailException as e:
            self.logger.debug(f"Socket Exception: {e}")
            has_error = True

        self.pgp.prune()
        return not has_error

    def _send_one(self, key: tuple[Any, ...], message: Any) -> bool:
        """Send one prepared message; True only when the server accepted it."""
        connection = self.pool.checkout(key)
        if connection is not None:
            sent = self._try_send(key, connection, message)
            if sent is not None:
                return sent
            # The server dropped the kept connection before any message text left: once more
            # on a fresh one (not another kept one: after a server restart all are stale).
        try:
            connection = self._connect()
        except (OSError, smtplib.SMTPException, RuntimeError) as exc:
            raise _ConnectFailed from exc
        sent = self._try_send(key, connection, message, fresh=True)
        return bool(sent)

    def _try_send(
        self, key: tuple[Any, ...], connection: _Connection, message: Any, *, fresh: bool = False
    ) -> bool | None:
        """True: accepted; False: failed (logged as apprise does); None: a kept connection
        turned out closed before ``DATA``, so the message can be sent again safely."""
        connection.data_started = False
        try:
            connection.sendmail(self.from_addr[1], message.to_addrs, message.body)
        except (OSError, smtplib.SMTPException, RuntimeError) as exc:
            lost = connection.sock is None or not isinstance(exc, _REPLIES)
            if lost:
                _quit(connection)
            else:
                self.pool.checkin(key, connection)
            if lost and not fresh and not connection.data_started:
                self.logger.debug(f"Kept SMTP connection lost ({exc!r}); reconnecting")
                return None
            self.logger.warning('Sending email to "%s" failed.', message.recipient)
            self.logger.debug(f"Socket Exception: {exc}")
            return False
        except BaseException:
            _quit(connection)  # unexpected: the session's state is unknown
            raise
        self.pool.checkin(key, connection)
        self.logger.info("Sent Email to %s", message.recipient)
        return True


class _ConnectFailed(Exception):
    """Opening, securing or logging in to a connection failed (``__cause__`` says how)."""
