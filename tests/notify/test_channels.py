"""Channels against real servers on 127.0.0.1: rows of (kind, server behaviour, expected)."""

from __future__ import annotations

import contextlib
import json
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from qcycle.errors import DeliveryError
from qcycle.notify import (
    DingTalkChannel,
    EmailChannel,
    FeishuChannel,
    Message,
    SendResult,
    SinkChannel,
    WebhookChannel,
    WeComChannel,
    channel_for,
    deliver_batch,
    open_channel,
    resolve_url,
)
from qcycle.notify.smtp import POOL, close_kept_connections
from tests.notify.botserver import BotServer
from tests.notify.conftest import SMTP_PASSWORD, SMTP_USER, Inbox, SmtpServer
from tests.prefect_proc import free_port

# The AUTH test relay runs without TLS on purpose; aiosmtpd warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

SUBJECT = "【提醒】揭榜书将于2023年4月20日截止"
BODY = "成都市市场监管局：\n\n请于2023年4月20日 17:30前提交揭榜书。"

TOKENS = {
    "wecom": "wecom-key-0b1c2d3e",
    "dingtalk": "dingtalktoken4f5a6b",
    "feishu": "feishu-hook-7c8d9e0f",
    "webhook": "hooks/qcycle",
}
SCHEMES = {"wecom": "qwecom", "dingtalk": "qdingtalk", "feishu": "qfeishu"}


def bot_url(kind: str, server: BotServer, *, timeout: float = 0.4, extra: str = "") -> str:
    if kind == "webhook":
        return f"qhook://127.0.0.1:{server.port}/{TOKENS['webhook']}?timeout={timeout}{extra}"
    return f"{SCHEMES[kind]}://{TOKENS[kind]}?base={quote(server.base, safe='')}&timeout={timeout}{extra}"


# (kind, behaviour, ok, retryable, status_code)
BOT_ROWS = [
    (kind, behaviour, ok, retryable, status)
    for kind in ("wecom", "dingtalk", "feishu")
    for behaviour, ok, retryable, status in [
        ("ok", True, False, 200),
        ("errcode", False, False, 200),  # HTTP 200 with an error code is a failure
        ("ratelimit", False, True, 200),  # 45009 / 130101 / 9499: retry later
        ("429", False, True, 429),
        ("500", False, True, 500),
        ("400", False, False, 400),
        ("notjson", False, False, 200),
        ("slow", False, True, None),  # beyond the client timeout
        ("closed", False, True, None),  # connection refused
    ]
] + [
    ("feishu", "ok_legacy", True, False, 200),
    ("webhook", "ok", True, False, 200),
    ("webhook", "429", False, True, 429),
    ("webhook", "500", False, True, 500),
    ("webhook", "400", False, False, 400),
    ("webhook", "slow", False, True, None),
    ("webhook", "closed", False, True, None),
]


@pytest.mark.parametrize(("kind", "behaviour", "ok", "retryable", "status"), BOT_ROWS)
def test_bot_channel_outcomes(
    botserver: BotServer, kind: str, behaviour: str, ok: bool, retryable: bool, status: int | None
) -> None:
    # Only "slow" must outlast the client's timeout; the others get time to answer on a loaded
    # machine (0.3 s for all made a "notjson" reply time out once under two test workers).
    channel = channel_for(bot_url(kind, botserver, timeout=0.3 if behaviour == "slow" else 5.0))
    if behaviour == "closed":
        botserver.close()
    else:
        botserver.behave(behaviour, delay=1.0, retry_after=0.2)

    result = channel.send(SUBJECT, BODY, tag="reminder", message_id="m-1")

    assert isinstance(result, SendResult)
    assert (result.ok, result.retryable) == (ok, retryable), result
    assert result.status_code == status
    assert (result.error is None) == ok
    if behaviour == "429":
        assert result.retry_after == pytest.approx(0.2)
    if behaviour == "ratelimit":
        assert result.retry_after is not None and result.retry_after > 0
    if behaviour not in {"closed"}:
        assert len(botserver.received) == 1


@pytest.mark.parametrize("kind", ["wecom", "dingtalk", "feishu"])
def test_bot_payload_is_the_service_shape(botserver: BotServer, kind: str) -> None:
    assert channel_for(bot_url(kind, botserver)).send(SUBJECT, BODY).ok
    (request,) = botserver.received
    assert request.kind == kind and request.token == TOKENS[kind]
    text = f"{SUBJECT}\n{BODY}"
    expected = {
        "wecom": {"msgtype": "text", "text": {"content": text}},
        "dingtalk": {"msgtype": "text", "text": {"content": text}},
        "feishu": {"msg_type": "text", "content": {"text": text}},
    }[kind]
    assert request.payload == expected


@pytest.mark.parametrize("kind", ["wecom", "dingtalk", "feishu"])
def test_bot_host_and_timeout_from_settings(botserver: BotServer, kind: str, monkeypatch) -> None:
    from qcycle.settings import get_settings

    # A closed network reaches the bot API through a gateway: QCYCLE_<KIND>_BASE_URL, no ?base=.
    monkeypatch.setenv(f"QCYCLE_{kind.upper()}_BASE_URL", botserver.base)
    monkeypatch.setenv("QCYCLE_NOTIFY_TIMEOUT", "0.3")
    get_settings.cache_clear()
    try:
        channel = channel_for(f"{SCHEMES[kind]}://{TOKENS[kind]}")
        assert channel.send(SUBJECT, BODY).ok
        assert [r.token for r in botserver.received] == [TOKENS[kind]]
        # The reply comes after 1 s: within the 10 s default it would be delivered; with the
        # setting's 0.3 s it is a timeout, to be retried.
        botserver.behave("slow", delay=1.0)
        late = channel_for(f"{SCHEMES[kind]}://{TOKENS[kind]}").send(SUBJECT, BODY)
        assert (late.ok, late.retryable, late.status_code) == (False, True, None), late
    finally:
        get_settings.cache_clear()


def test_webhook_timeout_from_settings(botserver: BotServer, monkeypatch) -> None:
    from qcycle.settings import get_settings

    # No ?timeout= in the URL: QCYCLE_NOTIFY_TIMEOUT bounds a webhook request as a bot's.
    monkeypatch.setenv("QCYCLE_NOTIFY_TIMEOUT", "0.3")
    get_settings.cache_clear()
    try:
        botserver.behave("slow", delay=1.0)
        url = f"qhook://127.0.0.1:{botserver.port}/{TOKENS['webhook']}"
        late = channel_for(url).send(SUBJECT, BODY)
        assert (late.ok, late.retryable, late.status_code) == (False, True, None), late
        assert "0.3s" in (late.error or "")
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("kind", ["wecom", "dingtalk", "feishu"])
def test_markdown_format(botserver: BotServer, kind: str) -> None:
    assert channel_for(bot_url(kind, botserver, extra="&format=markdown")).send(SUBJECT, BODY).ok
    payload = botserver.received[0].payload
    flat = json.dumps(payload, ensure_ascii=False)
    assert payload.get("msgtype", payload.get("msg_type")) in {"markdown", "interactive"}
    assert "成都市市场监管局" in flat and SUBJECT in flat


@pytest.mark.parametrize("kind", ["dingtalk", "feishu"])
def test_signed_bots(botserver: BotServer, kind: str) -> None:
    secret = "SEC0123456789abcdefSigning"
    botserver.add_secret(TOKENS[kind], secret)
    signed = f"{SCHEMES[kind]}://{TOKENS[kind]}/{secret}?base={quote(botserver.base, safe='')}"
    assert channel_for(signed).send(SUBJECT, BODY).ok

    wrong = signed.replace(secret, "SECwrongwrongwrongwrong")
    result = channel_for(wrong).send(SUBJECT, BODY)
    assert not result.ok and not result.retryable
    assert "sign" in (result.error or "")


def test_wecom_text_given_to_one_send_is_cut_to_its_byte_limit(botserver: BotServer) -> None:
    # The last guard: delivery sends a longer message as several posts (tests/notify/test_long_posts.py).
    assert channel_for(bot_url("wecom", botserver)).send("长消息", "质" * 3000).ok
    content = botserver.received[0].payload["text"]["content"]
    assert len(content.encode("utf-8")) <= 2048
    assert content.endswith("（内容过长，已截断）")


# ---------------------------------------------------------------- email

# (recipient, ok, retryable, status_code)
EMAIL_ROWS = [
    ("unit@example.gov.cn", True, False, None),
    ("reject@example.gov.cn", False, False, 550),  # mailbox unavailable: permanent
    ("busy@example.gov.cn", False, True, 451),  # try again later
    ("not an address", False, False, None),  # refused before any SMTP
    (None, False, False, None),  # apprise would mail the sender itself
]


@pytest.mark.parametrize(("recipient", "ok", "retryable", "status"), EMAIL_ROWS)
def test_email_outcomes(
    smtp_server: SmtpServer, recipient: str | None, ok: bool, retryable: bool, status: int | None
) -> None:
    channel = channel_for(smtp_server.url())
    result = channel.send(SUBJECT, BODY, recipient=recipient)
    assert (result.ok, result.retryable, result.status_code) == (ok, retryable, status), result
    assert len(smtp_server.inbox.messages) == (1 if ok else 0)


def test_email_arrives_with_decodable_chinese(smtp_server: SmtpServer) -> None:
    assert channel_for(smtp_server.url()).send(SUBJECT, BODY, recipient="unit@example.gov.cn").ok
    ((envelope, mail),) = smtp_server.inbox.messages
    assert envelope.rcpt_tos == ["unit@example.gov.cn"]
    assert mail["Subject"] == SUBJECT
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().replace("\r\n", "\n").strip() == BODY  # SMTP lines end in CRLF
    assert "质量工作办公室" in str(mail["From"]) and "qcycle@example.gov.cn" in str(mail["From"])
    assert "+0800" in mail["Date"]


def test_email_with_auth(smtp_auth_server: SmtpServer) -> None:
    good = channel_for(smtp_auth_server.url(auth=f"{SMTP_USER}:{quote(SMTP_PASSWORD)}"))
    assert good.send(SUBJECT, BODY, recipient="unit@example.gov.cn").ok
    assert smtp_auth_server.inbox.messages[0][1]["Subject"] == SUBJECT

    bad = channel_for(smtp_auth_server.url(auth=f"{SMTP_USER}:wrong-password"))
    result = bad.send(SUBJECT, BODY, recipient="unit@example.gov.cn")
    assert (result.ok, result.retryable, result.status_code) == (False, False, 535)

    anonymous = channel_for(smtp_auth_server.url())
    result = anonymous.send(SUBJECT, BODY, recipient="unit@example.gov.cn")
    assert not result.ok and result.status_code == 530  # authentication required


def test_email_refused_connection_is_retryable() -> None:
    channel = channel_for(
        f"mailto://127.0.0.1:{free_port()}?from=qcycle@example.gov.cn&mode=insecure"
    )
    result = channel.send(SUBJECT, BODY, recipient="unit@example.gov.cn")
    assert (result.ok, result.retryable) == (False, True)
    assert "refused" in (result.error or "").lower()


def test_email_recipient_replaces_fixed_one(smtp_server: SmtpServer) -> None:
    channel = channel_for(smtp_server.url(extra="&to=ops@example.gov.cn"))
    assert channel.send("运维", "正文").ok  # the URL's own recipient
    assert channel.send("单位", "正文", recipient="unit@example.gov.cn").ok
    assert [e.rcpt_tos for e, _ in smtp_server.inbox.messages] == [
        ["ops@example.gov.cn"],
        ["unit@example.gov.cn"],
    ]


# ---------------------------------------------------------------- email over kept connections


class CountingSmtp(Controller):
    """An SMTP server on 127.0.0.1 that counts the connections it accepted and can drop the
    open ones (as a server restarting or timing out idle clients does)."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        self.opened = 0
        self.live: set[SMTP] = set()
        super().__init__(handler, hostname="127.0.0.1", port=free_port(), **kwargs)

    def factory(self) -> SMTP:
        controller = self

        class Counting(SMTP):
            def connection_made(self, transport: Any) -> None:
                if self.transport is None:  # not the STARTTLS upgrade of a counted one
                    controller.opened += 1
                    controller.live.add(self)
                super().connection_made(transport)

            def connection_lost(self, error: Exception | None) -> None:
                controller.live.discard(self)
                super().connection_lost(error)

        return Counting(self.handler, **self.SMTP_kwargs)

    def url(self, extra: str = "") -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?from=qcycle@example.gov.cn&mode=insecure"
            f"&name=质量工作办公室{extra}"
        )

    def drop_all(self) -> None:
        for server in list(self.live):
            self.loop.call_soon_threadsafe(lambda s=server: s.transport and s.transport.close())
        wait_until(lambda: not self.live)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@contextlib.contextmanager
def counting_smtp(handler: Any = None, **kwargs: Any) -> Iterator[CountingSmtp]:
    server = CountingSmtp(handler or Inbox(), **kwargs)
    server.start()
    # start() makes one connection of its own to see that the server answers.
    wait_until(lambda: server.opened == 1 and not server.live)
    server.opened = 0
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _no_kept_smtp_connections() -> Iterator[None]:
    # Each test starts and ends without idle connections kept from another test.
    close_kept_connections()
    yield
    close_kept_connections()


def test_email_sends_keep_one_connection() -> None:
    with counting_smtp() as server:
        channel = channel_for(server.url())
        for i in range(5):
            assert channel.send(SUBJECT, BODY, recipient=f"unit{i}@example.gov.cn").ok
        assert server.opened == 1
        assert [e.rcpt_tos for e, _ in server.handler.messages] == [
            [f"unit{i}@example.gov.cn"] for i in range(5)
        ]


def test_email_connection_idle_too_long_is_replaced(monkeypatch) -> None:
    monkeypatch.setattr(POOL, "max_idle_seconds", 0.0)
    with counting_smtp() as server:
        channel = channel_for(server.url())
        assert channel.send(SUBJECT, BODY, recipient="first@example.gov.cn").ok
        assert channel.send(SUBJECT, BODY, recipient="second@example.gov.cn").ok
        assert server.opened == 2
        wait_until(lambda: len(server.live) == 1)  # the old one was closed, not left open


def test_deliver_batch_reuses_and_then_closes_email_connections(monkeypatch) -> None:
    with counting_smtp() as server:
        monkeypatch.setenv("QCYCLE_TEST_SMTP", server.url("&rate=1000000/1"))
        messages = [
            Message(f"m{i}", "env:QCYCLE_TEST_SMTP", SUBJECT, BODY, f"unit{i}@example.gov.cn")
            for i in range(40)
        ]
        results = deliver_batch(messages)
        assert all(r.ok for _, r in results), results
        assert len(server.handler.messages) == 40
        # At most one connection per send running at once, not one per message.
        assert 1 <= server.opened <= EmailChannel.parallel
        wait_until(lambda: not server.live)  # the batch closed what it kept


class MailRefusedOnce(Inbox):
    """Answers 421 (closing the channel) to the second MAIL FROM, as a server does that ends
    an idle session when the client speaks again."""

    def __init__(self) -> None:
        super().__init__()
        self.mails = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mails += 1
        if self.mails == 2:
            return "421 4.4.2 idle too long, closing"
        envelope.mail_from = address
        return "250 OK"


@pytest.mark.parametrize("how", ["dropped", "idle timeout", "421"])
def test_email_reconnects_when_the_server_closed_the_kept_connection(how: str) -> None:
    handler = MailRefusedOnce() if how == "421" else Inbox()
    options = {"timeout": 0.3} if how == "idle timeout" else {}
    with counting_smtp(handler, **options) as server:
        channel = channel_for(server.url())
        assert channel.send(SUBJECT, BODY, recipient="first@example.gov.cn").ok
        if how == "dropped":
            server.drop_all()
        elif how == "idle timeout":
            wait_until(lambda: not server.live)  # aiosmtpd closed the idle session

        result = channel.send(SUBJECT, BODY, recipient="second@example.gov.cn")

        assert result.ok, result
        assert server.opened == 2
        # Each message arrived once: the lost connection carried no message text.
        assert [e.rcpt_tos for e, _ in handler.messages] == [
            ["first@example.gov.cn"],
            ["second@example.gov.cn"],
        ]


class DataRefusedOrDropped(Inbox):
    """Refuses the message text of ``refuse@`` recipients (554) and drops the connection
    without an answer for ``drop@`` ones; accepts the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.data_seen = 0

    async def handle_DATA(self, server, session, envelope):
        self.data_seen += 1
        if envelope.rcpt_tos[0].startswith("refuse"):
            return "554 5.6.0 message content refused"
        if envelope.rcpt_tos[0].startswith("drop"):
            server.transport.close()
            return "250 never heard"
        return await super().handle_DATA(server, session, envelope)


def test_refused_message_is_not_reported_sent() -> None:
    handler = DataRefusedOrDropped()
    with counting_smtp(handler) as server:
        channel = channel_for(server.url())

        refused = channel.send(SUBJECT, BODY, recipient="refuse@example.gov.cn")
        assert (refused.ok, refused.retryable, refused.status_code) == (False, False, 554)
        assert "554" in (refused.error or "")
        assert channel.send(SUBJECT, BODY, recipient="unit@example.gov.cn").ok
        assert server.opened == 1  # a refusal leaves the connection usable

        # No answer to the message text: it may or may not have arrived, so it is neither
        # reported sent nor sent again on a new connection here (the caller's retry decides).
        dropped = channel.send(SUBJECT, BODY, recipient="drop@example.gov.cn")
        assert (dropped.ok, dropped.retryable) == (False, True)
        assert handler.data_seen == 3
        assert channel.send(SUBJECT, BODY, recipient="unit2@example.gov.cn").ok
        assert server.opened == 2
        assert [e.rcpt_tos for e, _ in handler.messages] == [
            ["unit@example.gov.cn"],
            ["unit2@example.gov.cn"],
        ]


def _self_signed(tmp_path: Path) -> ssl.SSLContext:
    """A server context with a throwaway certificate for 127.0.0.1."""
    pytest.importorskip("cryptography")
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_email_tls_modes_over_kept_connections(tmp_path: Path, mode: str) -> None:
    context = _self_signed(tmp_path)
    options = {"tls_context": context} if mode == "starttls" else {"ssl_context": context}
    with counting_smtp(**options) as server:
        url = server.url().replace("mode=insecure", f"mode={mode}")

        # The certificate is still checked by default (the SSL context is shared, not lax).
        unverified = channel_for(url).send(SUBJECT, BODY, recipient="unit@example.gov.cn")
        assert not unverified.ok
        assert "CERTIFICATE_VERIFY_FAILED" in (unverified.error or "")

        before = server.opened  # implicit TLS counts a connection only after the handshake
        channel = channel_for(f"{url}&verify=no")
        for i in range(3):
            assert channel.send(SUBJECT, BODY, recipient=f"unit{i}@example.gov.cn").ok
        assert len(server.handler.messages) == 3
        assert server.opened == before + 1


# ---------------------------------------------------------------- sink, URLs, references


def test_sink_writes_json_files(tmp_path, _sink_in_tmp) -> None:
    explicit = open_channel(f"sink:{tmp_path / '落地'}")
    assert isinstance(explicit, SinkChannel)
    assert explicit.send(
        SUBJECT, BODY, recipient="unit@example.gov.cn", tag="reminder", message_id="r/1"
    ).ok
    (written,) = (tmp_path / "落地").glob("*.json")
    record = json.loads(written.read_text(encoding="utf-8"))
    assert record["subject"] == SUBJECT and record["body"] == BODY
    assert record["id"] == "r/1" and record["tag"] == "reminder"

    default = open_channel("sink")
    assert default.send(SUBJECT, BODY).ok
    assert len(list(_sink_in_tmp.glob("*.json"))) == 1


def test_sink_folder_from_settings(tmp_path, monkeypatch) -> None:
    from qcycle.settings import get_settings

    monkeypatch.setenv("QCYCLE_SINK_DIR", str(tmp_path / "elsewhere"))
    get_settings.cache_clear()
    try:
        sink = open_channel("sink")
        assert sink.send(SUBJECT, BODY, message_id="m1").ok
        assert sink.folder == tmp_path / "elsewhere"
    finally:
        get_settings.cache_clear()
    assert len(list((tmp_path / "elsewhere").glob("*-m1.json"))) == 1


def test_sink_jsonl_layout_appends_one_line_per_message_per_day(tmp_path, monkeypatch) -> None:
    import datetime as dt

    from qcycle import clock
    from qcycle.settings import get_settings

    monkeypatch.setenv("QCYCLE_SINK_LAYOUT", "jsonl")
    get_settings.cache_clear()
    try:
        sink = open_channel(f"sink:{tmp_path / 'lines'}")
        with clock.frozen(dt.datetime(2023, 4, 19, 10, tzinfo=clock.TZ)):
            results = [sink.send(SUBJECT, f"{BODY} {i}", message_id=f"m{i}") for i in range(3)]
        with clock.frozen(dt.datetime(2023, 4, 20, 10, tzinfo=clock.TZ)):
            results.append(sink.send(SUBJECT, BODY, message_id="next-day"))
    finally:
        get_settings.cache_clear()
    assert all(r.ok for r in results)
    files = sorted(p.name for p in (tmp_path / "lines").iterdir())
    assert files == ["messages-20230419.jsonl", "messages-20230420.jsonl"]
    first = [json.loads(line) for line in (tmp_path / "lines" / files[0]).read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in first] == ["m0", "m1", "m2"] and first[2]["body"] == f"{BODY} 2"
    assert json.loads((tmp_path / "lines" / files[1]).read_text(encoding="utf-8"))["id"] == "next-day"


def test_a_delivery_pass_writes_the_jsonl_sink_in_order_once_and_fails_every_message_it_cannot_write(
        tmp_path, monkeypatch) -> None:
    import datetime as dt

    from qcycle import clock
    from qcycle.notify.deliver import Message, deliver_batch
    from qcycle.notify.sink import label_sink_messages
    from qcycle.settings import get_settings

    monkeypatch.setenv("QCYCLE_SINK_LAYOUT", "jsonl")
    get_settings.cache_clear()
    days = [dt.datetime(2023, 4, 19 + i % 2, 9, tzinfo=clock.TZ) for i in range(6)]
    messages = [Message(id=f"m{i}", channel=f"sink:{tmp_path / 'lines'}", subject=SUBJECT, body=f"{BODY} {i}")
                for i in range(6)]
    (tmp_path / "blocked").write_text("a file where the folder should be", encoding="utf-8")
    stuck = [Message(id=f"s{i}", channel=f"sink:{tmp_path / 'blocked'}", subject=SUBJECT, body=BODY) for i in range(2)]
    try:
        with label_sink_messages({m.id: (day, "email") for m, day in zip(messages, days, strict=True)}):
            results = dict(deliver_batch(messages + stuck, attempts=2, backoff_base=0.01))
    finally:
        get_settings.cache_clear()
    assert all(results[m.id].ok and results[m.id].local for m in messages)
    written = {path.name: [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
               for path in (tmp_path / "lines").iterdir()}
    # Each message once, in the order given, in the file of the day it was written for.
    assert {name: [r["id"] for r in rows] for name, rows in written.items()} == {
        "messages-20230419.jsonl": ["m0", "m2", "m4"], "messages-20230420.jsonl": ["m1", "m3", "m5"]}
    assert written["messages-20230420.jsonl"][0]["channel"] == "email"
    # A folder that cannot be written: every message failed (retryable, for the outbox), none sent.
    assert all(not results[m.id].ok and results[m.id].retryable and "cannot write" in (results[m.id].error or "")
               for m in stuck)


@pytest.mark.parametrize(
    ("url", "cls"),
    [
        ("qwecom://k", WeComChannel),
        ("qdingtalk://t/s", DingTalkChannel),
        ("qfeishu://t", FeishuChannel),
        ("qhooks://example.org/x", WebhookChannel),
        ("mailtos://u:p@smtp.example.gov.cn?from=a@example.gov.cn", EmailChannel),
        ("qsink://local", SinkChannel),
    ],
)
def test_channel_for_picks_the_class(url: str, cls: type) -> None:
    assert type(channel_for(url)) is cls


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("wecombot://abcdef", "qwecom"),  # apprise's own plugin is refused, with the reason
        ("slack://a/b/c", "不支持渠道地址类型"),
        ("qwecom://key?rate=fast", "COUNT/SECONDS"),
        ("mailto://127.0.0.1:25?mode=insecure", "渠道地址无效"),  # no from address
    ],
)
def test_bad_urls_raise_delivery_error(url: str, says: str) -> None:
    with pytest.raises(DeliveryError, match=says):
        channel_for(url)


def test_resolve_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCYCLE_TEST_BOT", "qwecom://abc")
    assert resolve_url("env:QCYCLE_TEST_BOT") == "qwecom://abc"
    monkeypatch.delenv("QCYCLE_TEST_MISSING", raising=False)
    with pytest.raises(DeliveryError, match="QCYCLE_TEST_MISSING"):
        resolve_url("env:QCYCLE_TEST_MISSING")
    with pytest.raises(DeliveryError, match="不能直接写地址"):
        resolve_url("qwecom://pasted-key")
    with pytest.raises(DeliveryError):
        resolve_url("vault:x")
    assert resolve_url("sink") == "qsink://local"


def test_send_never_raises_even_on_a_broken_handler(botserver: BotServer, monkeypatch) -> None:
    from qcycle.notify import channels

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setitem(channels._HANDLERS, "qwecom", ("wecom", broken))
    result = channel_for(bot_url("wecom", botserver)).send(SUBJECT, BODY)
    assert (result.ok, result.retryable) == (False, False)
    assert "boom" in (result.error or "")
