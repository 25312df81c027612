"""What a delivery run did, by outcome and channel: the run's log line, its summary in the
run history, and the failures its ops digest reports."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["DeliveryReport"]


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    deferred: int = 0  # reminders held back until office hours
    requeued: int = 0  # claimed but not sent this run (endpoint held): queued again, no attempt
    unknown: int = 0  # interrupted mid-request by a crash: held for ops, never resent silently
    digests: int = 0  # ops digest rows queued by this run
    group_posts: int = 0  # posts to group bots that carried several units' messages
    grouped: int = 0  # the messages those posts carried
    # "sending" rows of a run that died, taken over by this one (by lease holder)
    reclaimed: Counter = field(default_factory=Counter)
    by_channel: dict[str, Counter] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        text = f"发送成功 {self.sent} 条，待重试 {self.failed} 条，最终失败 {self.dead} 条"
        if self.deferred:
            text += f"，待办公时间发送 {self.deferred} 条"
        if self.group_posts:
            text += f"；其中 {self.grouped} 条在群内合并为 {self.group_posts} 次发布"
        if self.reclaimed:
            text += f"；收回中断的投递 {sum(self.reclaimed.values())} 条"
            if self.unknown:
                text += f"（其中 {self.unknown} 条请求已发出、结果未知，待运维核实）"
        return text

    def reclaim(self, holder: str | None) -> None:
        """Count a row taken over from a run that died (``holder``: its lease's holder)."""
        self.reclaimed[holder or "（未记录）"] += 1

    def as_dict(self) -> dict:
        return {"sent": self.sent, "failed": self.failed, "dead": self.dead,
                "deferred": self.deferred, "requeued": self.requeued,
                "group_posts": self.group_posts, "grouped": self.grouped, "unknown": self.unknown, "digests": self.digests,
                "reclaimed": dict(self.reclaimed),
                "by_channel": {k: dict(v) for k, v in self.by_channel.items()}}
