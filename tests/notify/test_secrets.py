"""The secret scan: with apprise logging everything it can (TRACE), and failures of every
kind, no bot key, signing secret or SMTP password appears in logs, results, errors or reprs."""

from __future__ import annotations

import io
import logging
from urllib.parse import quote

import pytest

from qcycle.errors import DeliveryError
from qcycle.notify import (
    Message,
    RateLimiter,
    channel_for,
    deliver_batch,
    open_channel,
    resolve_url,
)
from tests.notify.botserver import BotServer
from tests.notify.conftest import SMTP_PASSWORD, SMTP_USER, SmtpServer
from tests.prefect_proc import free_port

# The AUTH test relay runs without TLS on purpose; aiosmtpd warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

WECOM_KEY = "0f1e2d3c-wecom-SECRET-KEY-9a8b"
DING_TOKEN = "d1n9t0kenSECRETvalue42"
DING_SECRET = "SECd1n9s1gnSECRET77"
FEISHU_TOKEN = "fe15hu-hook-SECRET-token"
SECRETS = [WECOM_KEY, DING_TOKEN, DING_SECRET, FEISHU_TOKEN, SMTP_PASSWORD]


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"secret {secret[:4]}... leaked in {where}: {text[:300]}"
        assert quote(secret, safe="") not in text, f"quoted secret leaked in {where}"


def test_no_secret_leaks_anywhere(
    botserver: BotServer,
    smtp_auth_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = quote(botserver.base, safe="")
    dead = quote(f"http://127.0.0.1:{free_port()}", safe="")
    env = {
        "QCYCLE_S_WECOM": f"qwecom://{WECOM_KEY}?base={base}&timeout=0.3",
        "QCYCLE_S_WECOM_DEAD": f"qwecom://{WECOM_KEY}?base={dead}&timeout=0.3",
        "QCYCLE_S_DING": f"qdingtalk://{DING_TOKEN}/{DING_SECRET}?base={base}&timeout=0.3",
        "QCYCLE_S_FEISHU": f"qfeishu://{FEISHU_TOKEN}?base={base}&timeout=0.3",
        "QCYCLE_S_MAIL": smtp_auth_server.url(auth=f"{SMTP_USER}:{quote(SMTP_PASSWORD)}"),
        "QCYCLE_S_MAIL_DEAD": (
            f"mailto://{SMTP_USER}:{quote(SMTP_PASSWORD)}@127.0.0.1:{free_port()}"
            "?from=qcycle@example.gov.cn&mode=insecure"
        ),
        "QCYCLE_S_BAD_RATE": f"qwecom://{WECOM_KEY}?rate=lots",
        "QCYCLE_S_NATIVE": f"wecombot://{WECOM_KEY}",
        "QCYCLE_S_NOFROM": f"mailto://{SMTP_USER}:{quote(SMTP_PASSWORD)}@127.0.0.1:1/?mode=nonsense",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(1)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    caplog.set_level(1)  # root: everything
    for name in ("apprise", "httpx", "httpcore", "qcycle", "qcycle.notify"):
        caplog.set_level(1, logger=name)  # apprise TRACE dumps parsed URLs
    try:
        results = []
        botserver.add_secret(DING_TOKEN, DING_SECRET)
        botserver.behave("ok", retry_after=0.1)
        botserver.behave_for(WECOM_KEY, "ok", "errcode")
        botserver.behave_for(DING_TOKEN, "429", "ok")
        botserver.behave_for(FEISHU_TOKEN, "ratelimit")
        messages = [
            Message("w1", "env:QCYCLE_S_WECOM", "【提醒】一", "正文"),
            Message("w2", "env:QCYCLE_S_WECOM", "【提醒】二", "正文"),  # errcode
            Message("d1", "env:QCYCLE_S_DING", "【提醒】三", "正文"),  # 429 then ok
            Message("f1", "env:QCYCLE_S_FEISHU", "【提醒】四", "正文"),  # rate limited
            Message("x1", "env:QCYCLE_S_WECOM_DEAD", "【提醒】五", "正文"),  # refused
            Message(
                "e1", "env:QCYCLE_S_MAIL", "【提醒】六", "正文", recipient="unit@example.gov.cn"
            ),
            Message(
                "e2",
                "env:QCYCLE_S_MAIL_DEAD",
                "【提醒】七",
                "正文",
                recipient="unit@example.gov.cn",
            ),
            Message("b1", "env:QCYCLE_S_BAD_RATE", "【提醒】八", "正文"),
            Message("n1", "env:QCYCLE_S_NATIVE", "【提醒】九", "正文"),
            Message("n2", "env:QCYCLE_S_NOFROM", "【提醒】十", "正文"),
        ]
        results = deliver_batch(
            messages,
            max_workers=1,
            attempts=2,
            backoff_base=0.05,
            max_wait=1.0,
            limiter=RateLimiter(),
        )
        outcome = {mid: r for mid, r in results}
        # The scan means something only if the failures really happened.
        assert outcome["w1"].ok and outcome["e1"].ok and outcome["d1"].ok
        assert not outcome["w2"].ok and not outcome["x1"].ok and not outcome["e2"].ok
        assert not outcome["f1"].ok and not outcome["b1"].ok and not outcome["n1"].ok
        assert not outcome["n2"].ok

        errors: list[str] = []
        for ref in ("env:QCYCLE_S_BAD_RATE", "env:QCYCLE_S_NATIVE", "env:QCYCLE_S_NOFROM"):
            with pytest.raises(DeliveryError) as caught:
                open_channel(ref)
            errors.append(str(caught.value))
            errors.append(repr(caught.value))
        with pytest.raises(DeliveryError) as caught:
            resolve_url(env["QCYCLE_S_WECOM"])  # a URL pasted where a reference belongs
        errors.append(str(caught.value))

        channels = [
            open_channel(ref)
            for ref in (
                "env:QCYCLE_S_WECOM",
                "env:QCYCLE_S_DING",
                "env:QCYCLE_S_FEISHU",
                "env:QCYCLE_S_MAIL",
            )
        ]
        # a direct send with a failure, outside deliver_batch
        direct = channel_for(env["QCYCLE_S_WECOM_DEAD"]).send("主题", "正文")
        assert not direct.ok
    finally:
        root.removeHandler(handler)

    assert caplog.records, "nothing was logged: the scan would prove nothing"
    assert any(r.name == "apprise" and r.levelno < logging.DEBUG for r in caplog.records)
    assert any(r.name == "httpx" for r in caplog.records)
    for record in caplog.records:
        assert_clean(record.getMessage(), f"log record from {record.name}")
    assert_clean(caplog.text, "caplog text")
    assert_clean(stream.getvalue(), "stream handler output")
    for mid, result in results:
        assert_clean(repr(result), f"result of {mid}")
    assert_clean(repr(direct), "direct result")
    for text in errors:
        assert_clean(text, "exception message")
    for channel in channels:
        assert_clean(repr(channel), "channel repr")
        assert_clean(str(channel), "channel str")
