"""Channels against real servers on 127.0.0.1: rows of (kind, server behaviour, expected)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from qcycle.errors import DeliveryError
from qcycle.notify import (
    DingTalkChannel,
    EmailChannel,
    FeishuChannel,
    SendResult,
    SinkChannel,
    WebhookChannel,
    WeComChannel,
    channel_for,
    open_channel,
    resolve_url,
)
from tests.notify.botserver import BotServer
from tests.notify.conftest import SMTP_PASSWORD, SMTP_USER, SmtpServer, free_port

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
    channel = channel_for(bot_url(kind, botserver, timeout=0.3))
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


def test_wecom_text_is_cut_to_its_byte_limit(botserver: BotServer) -> None:
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
        ("slack://a/b/c", "not supported"),
        ("qwecom://key?rate=fast", "COUNT/SECONDS"),
        ("mailto://127.0.0.1:25?mode=insecure", "not valid"),  # no from address
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
    with pytest.raises(DeliveryError, match="not a URL"):
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
