"""What a service takes in one post, and a longer message in parts, a post each (:class:`Framing`):
group bots refuse a message over their limit (WeCom's text: 2,048 bytes), so delivery sends it as
posts in order, each paced and retried like a message, and the outbox keeps how far it came
(:class:`Part` ``upto``) so that no post that arrived is sent again. (A group post carrying several
units' rows is :class:`qcycle.notify.groups.Post`: its text is what is cut into parts.)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from qcycle.notify.redact import LOGGER_NAME

__all__ = ["Framing", "Part", "json_size", "past_opening", "utf8_size"]

log = logging.getLogger(LOGGER_NAME)


def past_opening(body: str, chars: int = 0) -> str:
    """What of ``body`` comes ``chars`` characters past its opening line (a group post's names, which vary
    from try to try: how far a long message came is counted in what follows them)."""
    return body[body.find("\n") + 1 + chars:]


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def json_size(text: str) -> int:
    """UTF-8 bytes of ``text`` as a string in a JSON request body, without its quotes: line breaks,
    quotes and backslashes take two bytes, other control characters six (what a service that
    limits the whole request counts: DingTalk's 20,000 bytes, Feishu's 20 KB)."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8")) - 2


@dataclass(frozen=True)
class Part:
    """One part of a message, sent as one post: its title and text, and ``upto``: how many characters
    of the message's text after its opening line have arrived once it has (the opening line, a group
    post's names, varies from try to try; what follows it does not)."""

    title: str
    text: str
    upto: int


@dataclass(frozen=True)
class Framing:
    """How a bot service frames a message and how much of it it takes: ``frame(title, body)`` is the
    text counted, ``size`` how it is counted, ``limit`` the most it takes (WeCom's text: the title,
    a line break and the body, 2,048 UTF-8 bytes)."""

    limit: int
    frame: Callable[[str, str], str]
    size: Callable[[str], int] = utf8_size

    def fit(self, title: str, body: str) -> str:
        """The framed text, cut to the limit saying so: the last guard only, for a send given more
        than the service takes (delivery sends a longer message as several posts, :meth:`parts`)."""
        text = self.frame(title, body)
        if self.size(text) <= self.limit:
            return text
        note = "\n……（内容过长，已截断）"
        log.warning("message cut to %d bytes for a bot limit", self.limit)
        return _prefix(text, self.limit - self.size(note), self.size) + note

    def parts(self, title: str, body: str, parts_sent: int = 0, sent_chars: int = 0) -> list[Part]:
        """The posts a message takes: one when it fits, else its text cut at line ends (a line too
        long for a post, between characters) into posts that each fit, their titles numbered
        "（2/3）". After ``parts_sent`` posts reaching ``sent_chars`` characters past the opening
        line had arrived, the posts of the rest only, numbered on from them (none: nothing is left).
        A 待审核 of forty items posted to a WeCom group had been cut at 2,048 bytes: the items after
        the cut reached nobody."""
        head = body.find("\n") + 1
        if not parts_sent:
            if self.size(self.frame(title, body)) <= self.limit:
                return [Part(title, body, len(body) - head)]
            posts = self._split(title, body, 1)
            if len(posts) <= 1:  # blank lines had made it too long, or a title leaves no room: one post
                return [Part(title, posts[0][1] if posts else "", len(body) - head)]
            return [Part(t, text, max(0, end - head)) for t, text, end in posts]
        rest = past_opening(body, sent_chars)
        return [Part(t, text, sent_chars + end) for t, text, end in self._split(title, rest, parts_sent + 1)]

    def _split(self, title: str, body: str, first: int) -> list[tuple[str, str, int]]:
        """(title, text, where in ``body`` it ends) of each post of ``body``, numbered from ``first``."""
        count = first + 1
        while True:
            # Room for a post's text beside the longest numbered title of this many posts.
            room = self.limit - self.size(self.frame(f"{title}（{count}/{count}）", ""))
            if room < 64:  # a title that leaves no room for a text: one post, which the guard cuts
                return [(title, body, len(body))]
            pieces = _pieces(body, room, self.size)
            last = first - 1 + len(pieces)
            if len(str(last)) <= len(str(count)):
                return [(f"{title}（{first + i}/{last}）", body[a:b], b) for i, (a, b) in enumerate(pieces)]
            count = last


def _prefix(text: str, room: int, size: Callable[[str], int]) -> str:
    """The longest beginning of ``text`` whose size is at most ``room`` (sizes add up by character)."""
    used = 0
    for i, ch in enumerate(text):
        used += size(ch)
        if used > room:
            return text[:i]
    return text


def _pieces(body: str, room: int, size: Callable[[str], int]) -> list[tuple[int, int]]:
    """Spans of ``body`` of at most ``room`` each, cut at line ends; a line longer than that fills
    the span it starts in, then is cut between characters. A span does not begin with a blank line:
    nothing but the line breaks between spans and blank lines at a span's start is left out."""
    spans: list[tuple[int, int]] = []
    start = end = -1  # the open span (none: -1)
    used = 0
    pos = 0
    for line in body.split("\n"):
        a, b = pos, pos + len(line)
        pos = b + 1
        if start < 0 and not line:
            continue  # no span begins with a blank line
        cost = size(line) + (size("\n") if start >= 0 else 0)
        if start >= 0 and used + cost <= room:
            end, used = b, used + cost
            continue
        if not line:  # a blank line that does not fit: the span ends, the next does not begin with it
            spans.append((start, end))
            start = -1
            continue
        if size(line) <= room:  # it fits a span of its own
            if start >= 0:
                spans.append((start, end))
            start, end, used = a, b, size(line)
            continue
        # A line too long for any span: the open span's room first, then spans of their own.
        if start >= 0:
            fill = _prefix(line, room - used - size("\n"), size)
            if fill:
                end = a + len(fill)
                a += len(fill)
            spans.append((start, end))
        while a < b:
            piece = _prefix(body[a:b], room, size)
            start, end, used = a, a + len(piece), size(piece)
            a = end
            if a < b:
                spans.append((start, end))
    if start >= 0:
        spans.append((start, end))
    return spans
