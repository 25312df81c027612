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
    "Channel",
    "DingTalkChannel",
    "EmailChannel",
    "FeishuChannel",
    "SendResult",
    "SinkChannel",
    "WebhookChannel",
    "WeComChannel",
    "channel_for",
    "open_channel",
    "Message",
    "deliver_batch",
    "DEFAULT_LIMITER",
    "Rate",
    "RateLimiter",
    "TokenBucket",
    "backoff",
    "install_log_redaction",
    "redact",
    "register_secret",
    "resolve_url",
]

install_log_redaction()
