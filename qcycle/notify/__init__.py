"""Delivery: channels (email and group bots through apprise), rate limits, batch delivery.

This layer knows nothing of the database; the outbox (queueing, cross-run retries, dead
letters) calls :func:`deliver_batch` with rendered messages.
"""

from qcycle.notify.channels import (
    CHANNEL_KINDS,
    Channel,
    DingTalkChannel,
    EmailChannel,
    FeishuChannel,
    SendResult,
    SinkChannel,
    WebhookChannel,
    WeComChannel,
    channel_for,
    open_channel,
)
from qcycle.notify.deliver import Message, deliver_batch
from qcycle.notify.ratelimit import DEFAULT_LIMITER, Rate, RateLimiter, TokenBucket, backoff
from qcycle.notify.redact import install_log_redaction, redact, register_secret
from qcycle.notify.refs import resolve_url

__all__ = [
    "CHANNEL_KINDS",
    "DEFAULT_LIMITER",
    "Channel",
    "DingTalkChannel",
    "EmailChannel",
    "FeishuChannel",
    "Message",
    "Rate",
    "RateLimiter",
    "SendResult",
    "SinkChannel",
    "TokenBucket",
    "WeComChannel",
    "WebhookChannel",
    "backoff",
    "channel_for",
    "deliver_batch",
    "install_log_redaction",
    "open_channel",
    "redact",
    "register_secret",
    "resolve_url",
]

install_log_redaction()
