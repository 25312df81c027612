"""Posts to a group chat: what several units of one group bot are told alike goes out once.

四川's 21 cities read one WeCom group. The outbox keeps a row per unit and channel (each unit's
record of what it was told), but a group reading the same 通知 21 times, each copy addressed to
one city, is noise a real office would never post. Within one delivery pass, rows on a group
channel (:attr:`qcycle.schema.Programme.group_channels`) with the same subject and the same body
after their salutation ("成都市市场监督管理局：") become one :class:`Post` addressed to all of
their units: the channel's ``salutation`` when it goes to every unit of the group, else their
names in the file's order (several posts when the names would crowd out the text), and
"贵单位" in its text reads "各单位". An invitation (a reminder or opening of a voluntary window or
of an objection window: "如需申报，请在截止时间前提交"), and a text told to the whole group but those
told the same action privately (the barred, by email), are addressed to the group as a whole, once:
naming the enterprises that had not applied yet, in ten posts to a group of 300, told their peers
who was not competing. Anything else (a letter naming the unit beyond its
salutation, an ops digest, email) goes out as it is.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Protocol

from qcycle.schema import Programme
from qcycle.timetable.actions import name_of

__all__ = ["Post", "group_posts", "joined_names"]


class _Row(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def channel(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def tag(self) -> str | None: ...
    @property
    def digest(self) -> bool: ...
    @property
    def action(self) -> str: ...
    @property
    def parts_sent(self) -> int: ...
    @property
    def sent_chars(self) -> int: ...


@dataclass(frozen=True)
class Post:
    """One send: the rows it carries (the first stands for them all), and its text."""

    rows: tuple[_Row, ...]
    units: tuple[str, ...]
    body: str

    @functools.cached_property
    def ids(self) -> tuple[str, ...]:
        """Its rows' ids as the delivery's messages carry them (worked out once: a national year has 52,000)."""
        return tuple(str(r.id) for r in self.rows)


# Offices a letter names once after the places they serve ("成都市、自贡市市场监督管理局"). A
# list, not the longest text the names share: 泸州 and 达州 share "州市市场监督管理局".
_OFFICES = ("市场监督管理局", "市场监管局", "质量技术监督局", "人民政府")


def joined_names(names: Sequence[str]) -> str:
    """Names as an official letter lists them: the office they share said once after their
    places; otherwise each in full ("榆阳区农业农村局、榆阳区林业局")."""
    office = next((o for o in _OFFICES if all(n.endswith(o) and len(n) > len(o) for n in names)), None)
    if len(names) < 2 or office is None:
        return "、".join(names)
    return "、".join(n[: -len(office)] for n in names) + office


# A salutation naming units one by one is kept short enough that the text after it fits a bot's
# message (WeCom text: 2,048 bytes): more units than that are told in several posts.
MAX_NAMES_CHARS = 200


# Whom an invitation posted to a group is addressed to, where the channel names no salutation.
INVITED = "各有关单位"


def _stage_and_kind(key: str) -> tuple[str, str]:
    """("objection", "window_open") of an action key "objection:window_open@2026-06-15"."""
    stage, _, rest = name_of(key).partition(":")
    return stage, rest.partition(":")[0]


def _invitation(programme: Programme, action: str) -> bool:
    """Whether a row's action invites rather than requires: a reminder or opening of a voluntary
    window or of an objection window (异议受理); a merged reminder ("a+b") only if each part does."""
    def invites(key: str) -> bool:
        stage, kind = _stage_and_kind(key)
        if kind not in ("reminder", "window_open") or not programme.has_stage(stage):
            return False
        window = programme.stage(stage)
        return bool(window.voluntary) or window.submission == "objection"

    return all(invites(key) for key in action.split("+"))


def _addressed(programme: Programme, channel: str, members: list[_Row],
               apart: AbstractSet[str] = frozenset()) -> list[tuple[str, list[_Row]]]:
    """(salutation, rows) of each post for rows saying the same on ``channel``; ``apart``: the group's
    units told the same action on other channels only (its own news, by email)."""
    salutation = programme.channel(channel).salutation
    everyone = programme.channel_members[channel]
    told = {r.unit for r in members}
    if salutation and told == set(everyone):
        return [(salutation, members)]
    # A call or an opening to everyone but those told apart (barred, by email): naming the rest named
    # them too (a call in 13 posts had named every enterprise but the three barred from applying). Not
    # a 公示's or a result's letter: there the private ones were told something else (left off a list).
    left_out = set(everyone) - told
    announced = _stage_and_kind(members[0].action)[1] in ("publish", "window_open")
    if _invitation(programme, members[0].action) or (announced and left_out and left_out <= apart):
        return [(salutation or INVITED, members)]
    order = {code: i for i, code in enumerate(everyone)}
    posts: list[tuple[list[str], list[_Row]]] = []
    for unit, rows in sorted(_by_unit(members).items(), key=lambda kv: order.get(kv[0], len(order))):
        names = [*posts[-1][0], programme.unit(unit).name] if posts else []
        if posts and len(joined_names(names)) <= MAX_NAMES_CHARS:
            posts[-1] = (names, posts[-1][1] + rows)
        else:
            posts.append(([programme.unit(unit).name], rows))
    return [(joined_names(names), rows) for names, rows in posts]


def _by_unit(rows: list[_Row]) -> dict[str, list[_Row]]:
    out: dict[str, list[_Row]] = {}
    for r in rows:
        out.setdefault(r.unit, []).append(r)
    return out


def group_posts(programme: Programme, rows: Iterable[_Row]) -> list[Post]:
    """The sends of one pass, in the rows' order (a post where its first row was)."""
    groups: dict[tuple, list[_Row]] = {}
    for n, row in enumerate(rows):
        key: tuple = (n,)
        if row.channel in programme.group_channels and not row.digest:
            head, sep, rest = row.body.partition("\n")
            if sep and head == f"{programme.unit(row.unit).name}：":
                # A long message's posts go on from where an earlier try stopped: only rows as far along share one.
                key = (row.channel, row.tag, row.subject, rest, row.parts_sent, row.sent_chars)
        groups.setdefault(key, []).append(row)
    # Per action and channel, the units told: one told an action only off a group was told apart. Read
    # from this pass's rows only: a unit whose private row went in another pass leaves the post naming
    # the rest, as before (a pass takes a whole action's rows unless it has thousands).
    channels_of: dict[tuple[str, str], set[str]] = {}
    for row in (r for members in groups.values() for r in members):
        channels_of.setdefault((row.action, row.unit), set()).add(row.channel)
    posts = []
    for key, members in groups.items():
        first = members[0]
        if len(_by_unit(members)) == 1:
            posts.append(Post(tuple(members), (first.unit,), first.body))
            continue
        apart = {u for u in programme.channel_members[first.channel]
                 if (first.action, u) in channels_of and first.channel not in channels_of[first.action, u]}
        for salutation, rows_ in _addressed(programme, first.channel, members, apart):
            units = tuple(_by_unit(rows_))
            # Addressed to several: "贵单位" (your unit) becomes "各单位" (each of you): as long, so how far a
            # long message's posts came (characters past the opening line) counts the same in either.
            body = f"{salutation}：\n{key[3].replace('贵单位', '各单位')}" if len(units) > 1 else rows_[0].body
            posts.append(Post(tuple(rows_), units, body))
    return posts
