"""The local sink: each message written as JSON in a folder, for development and simulation.

``qsink://local`` writes to the settings' sink folder (``QCYCLE_SINK_DIR``, else
``<home>/sink``), ``qsink://local/ABSOLUTE/FOLDER`` to that folder. The setting
``sink_layout`` chooses one JSON file per message (``files``) or one JSON Lines file per day
(``jsonl``).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import functools
import json
import os
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from qcycle import clock
from qcycle.jsontext import spaced
from qcycle.notify.base import Channel, digest
from qcycle.notify.results import Call, SendResult, failure_from_exception
from qcycle.settings import get_settings

__all__ = ["SinkChannel", "label_sink_messages", "send_sink", "sink_folder"]


def sink_folder(meta: Mapping[str, Any]) -> Path:
    """The folder a sink URL names (its path), else the settings' sink folder."""
    path = unquote(str(meta.get("fullpath") or ""))
    return Path(path) if path.strip("/") else get_settings().effective_sink_dir


# message id → (logical moment of the delivery run, programme channel name), registered by the
# outbox around a delivery pass, so sink files are named by the moment the run is for (a
# simulated, backfilled or caught-up one too) and say which channel they stand in for.
_sink_labels: dict[str, tuple[dt.datetime, str]] = {}


@contextlib.contextmanager
def label_sink_messages(labels: Mapping[str, tuple[dt.datetime, str]]) -> Iterator[None]:
    """Within the block, sink writes of these message ids carry their moment and channel."""
    _sink_labels.update(labels)
    try:
        yield
    finally:
        for key in labels:
            _sink_labels.pop(key, None)


def _safe(text: str, limit: int) -> str:
    """``text`` fit for a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:limit]


def _record(title: str, body: str, call: Call | None) -> tuple[dt.datetime, str, dict[str, Any]]:
    """(the moment it is written for, the channel it stands in for, the JSON record) of a message."""
    message_id = (call.message_id if call else None) or "message"
    now, channel = _sink_labels.get(message_id) or (clock.now(), "sink")
    record = {
        "id": call.message_id if call else None,
        "channel": channel,
        "tag": call.tag if call else None,
        "recipient": call.recipient if call else None,
        "subject": title,
        "body": body,
        "written_at": now.isoformat(),
    }
    return now, channel, record


def send_sink(title: str, body: str, meta: Mapping[str, Any], call: Call | None) -> SendResult:
    folder = sink_folder(meta)
    message_id = (call.message_id if call else None) or "message"
    now, channel, record = _record(title, body, call)
    if get_settings().sink_layout == "jsonl":
        return _write_jsonl(folder, [(now, record)])[0]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        name = (f"{now:%Y%m%dT%H%M%S}-{_safe(channel, 40)}-{uuid.uuid4().hex[:8]}"
                f"-{_safe(message_id, 80)}.json")
        partial = folder / f".{name}.part"
        partial.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(partial, folder / name)  # readers never see half a file
    except OSError as exc:
        return _unwritable(folder, exc)
    return SendResult.success()


def _unwritable(folder: Path, exc: OSError) -> SendResult:
    return SendResult.failure(f"sink: cannot write to {folder}: {exc}", retryable=True)


def _write_jsonl(folder: Path, records: list[tuple[dt.datetime, dict[str, Any]]]) -> list[SendResult]:
    """Records as JSON lines in the file of the day each is written for, one write per file (a
    failed write fails each record of that file: the outbox sends them again)."""
    days: dict[dt.date, list[int]] = {}
    for i, (now, _) in enumerate(records):
        days.setdefault(now.date(), []).append(i)  # a path per day, not per record
    results: list[SendResult] = [_WRITTEN] * len(records)
    for day, indexes in days.items():
        path = folder / f"messages-{day:%Y%m%d}.jsonl"
        try:
            _append_lines(path, [spaced(records[i][1]) for i in indexes])
        except OSError as exc:
            failed = _unwritable(folder, exc)
            for i in indexes:
                results[i] = failed
    return results


_sink_files: dict[Path, int] = {}
_WRITTEN = SendResult(ok=True, local=True)
_sink_lock = threading.Lock()


def _append_lines(path: Path, lines: list[str]) -> None:
    """The lines, in order, in one ``write`` on a kept O_APPEND descriptor (whole lines). Creating
    a file per message costs ~0.2–0.5 ms of kernel time here, the largest single cost of a
    national year's 40,000 messages."""
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    with _sink_lock:
        fd = _sink_files.get(path)
        if fd is None:
            for old in [p for p in _sink_files if p.parent == path.parent]:
                os.close(_sink_files.pop(old))  # a new day: yesterday's file is done
            # The folder is made when its first file is opened, not checked on every message.
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = _sink_files[path] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        view = memoryview(data)
        while view:  # a regular file takes it all at once; a short write is carried on
            view = view[os.write(fd, view):]


@atexit.register
def _close_sink_files() -> None:
    with _sink_lock:
        for fd in _sink_files.values():
            os.close(fd)
        _sink_files.clear()


class SinkChannel(Channel, handler=send_sink):
    """Writes each message as a JSON file in a folder: the local default for development and
    simulation. ``qsink://local`` (the settings' sink folder) or ``qsink://local/ABS/FOLDER``.

    Its handler is registered with apprise like the others, so a sink URL is checked the same
    way when the channel is made; sends bypass apprise (see :meth:`send`)."""

    kind = "sink"
    schemas = ("qsink",)
    local = True

    def _endpoint_id(self, parts: Any) -> str:
        return digest(unquote(parts.path))

    @functools.cached_property
    def _meta(self) -> dict[str, str]:
        return {"fullpath": urlsplit(self._url()).path}

    @property
    def folder(self) -> Path:
        return sink_folder(self._meta)

    def send_many(self, messages: Sequence[Any]) -> list[SendResult]:
        """JSON Lines: the messages of a delivery pass in one write per day's file, not one each."""
        if get_settings().sink_layout != "jsonl":
            return super().send_many(messages)
        records = []
        for m in messages:
            now, _, record = _record(m.subject, m.body, Call(kind=self.kind, message_id=m.id, tag=m.tag,
                                                             recipient=m.recipient))
            records.append((now, record))
        results = _write_jsonl(self.folder, records)
        for failed in {id(r): r for r in results if not r.ok}.values():  # once per file that failed
            self._logged(failed, None)
        return results

    def send(self, subject: str, body: str, *, recipient: str | None = None, tag: str | None = None,
             message_id: str | None = None) -> SendResult:
        """Write the message file directly: the sink is qcycle's own folder, not a delivery
        service, and apprise's per-message setup cost more than the write (national scale:
        tens of thousands of messages per simulated year)."""
        call = Call(kind=self.kind, message_id=message_id, tag=tag, recipient=recipient)
        try:
            result = replace(send_sink(subject, body, self._meta, call), local=True)
        except Exception as exc:  # noqa: BLE001 - send never raises into the caller
            result = failure_from_exception(self.kind, exc)
        return self._logged(result, message_id)
