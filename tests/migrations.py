"""Data migrations checked on both databases: rows stored at the revision before, read after."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from qcycle import db

_PROGRAMME = ("round: {code: r1}\nstages:\n  - {code: application, kind: submission}\n"
              "  - {code: eligibility, kind: decision, decides: application}\n"
              "  - {code: scoring, kind: assessment}\n  - {code: committee, kind: decision, decides: scoring}\n")


def _new_id(url: str) -> object:
    """A new id as the database binds it: CHAR(32) on SQLite, uuid on PostgreSQL."""
    return uuid.uuid4().hex if url.startswith("sqlite") else uuid.uuid4()


def _round_rows(connection, url: str, codes: list[str]) -> list[object]:
    """New rounds in plain SQL; their ids as the database binds them."""
    ids = [_new_id(url) for _ in codes]
    for rid, code in zip(ids, codes, strict=True):
        connection.execute(text(
            "INSERT INTO programme_round (id, code, name, issuer_code, config_path, config_sha256, first_year,"
            " last_year, created_at, updated_at) VALUES (:id, :code, '测试', 'amr', 'x.yaml', :sha, 2023, 2023,"
            " :t, :t)"), {"id": rid, "code": code, "sha": "0" * 64, "t": "2023-04-18 10:00:00"})
    return ids


def decides_after_0015(url: str) -> list[tuple[str, str, str]]:
    """(round code, stage, decides) of decisions stored at 0014 in a round with a stored programme
    (r1) and one without (r0: it ran before texts were kept), after upgrading to head."""
    db.upgrade(url, "0014_review_stage")
    with db.get_engine(url).begin() as connection:
        for code, config in [("r1", _PROGRAMME), ("r0", None)]:
            rid = _new_id(url)
            connection.execute(text(
                "INSERT INTO programme_round (id, code, name, issuer_code, config_path, config_sha256, first_year,"
                " last_year, config_text, created_at, updated_at) VALUES (:id, :code, '测试', 'amr', 'x.yaml', :sha,"
                " 2021, 2021, :config, '2021-01-01 00:00:00', '2021-01-01 00:00:00')"),
                {"id": rid, "code": code, "sha": "0" * 64, "config": config})
            for stage in ("eligibility", "committee"):
                connection.execute(text(
                    "INSERT INTO decision (id, round_id, stage, subject, outcome, decided_by, note, decided_at)"
                    " VALUES (:id, :rid, :stage, 'e1', 'rejected', 'cli:test', '', '2021-06-01 00:00:00')"),
                    {"id": _new_id(url), "rid": rid, "stage": stage})
    found = _upgraded_and_read(url, "SELECT r.code, d.stage, d.decides FROM decision d JOIN programme_round r"
                                    " ON r.id = d.round_id ORDER BY r.code, d.stage")
    return [(str(a), str(b), str(c)) for a, b, c in found]


def revisions_after_0021(url: str) -> tuple[int, int, int]:
    """(submissions, revisions, revisions whose submission exists) of a round stored at 0020 with a
    revised hand-in, after upgrading to head: SQLite rebuilds ``submission`` to drop its fingerprint
    key, and the revision's foreign key must neither stop the rebuild nor lose the row."""
    db.upgrade(url, "0020_outbox_posted_with")
    sid, vid = _new_id(url), _new_id(url)
    stamp = "2023-04-18 10:00:00"
    with db.get_engine(url).begin() as connection:
        (rid,) = _round_rows(connection, url, ["r1"])
        columns = ("kind, stage, unit_code, fingerprint, payload, submitted_at, source, late, status, id, round_id,"
                   " received_at")
        values = "'application', 'application', 'c1', :fp, '{}', :t, 'test', false, 'accepted', :id, :rid, :t"
        connection.execute(text(f"INSERT INTO submission ({columns}, identity, revisions) VALUES ({values},"
                                " '[\"application\",\"c1\",null,null]', 1)"), {"fp": "b" * 64, "id": sid, "rid": rid, "t": stamp})
        connection.execute(text(f"INSERT INTO submission_revision ({columns}, submission_id, fate, recorded_at)"
                                f" VALUES ({values}, :sid, 'superseded', :t)"),
                           {"fp": "a" * 64, "id": vid, "rid": rid, "sid": sid, "t": stamp})
    [counts] = _upgraded_and_read(url, "SELECT (SELECT count(*) FROM submission), (SELECT count(*) FROM"
                                       " submission_revision), (SELECT count(*) FROM submission_revision r JOIN"
                                       " submission s ON s.id = r.submission_id)")
    return int(counts[0]), int(counts[1]), int(counts[2])


def _upgraded_and_read(url: str, query: str) -> list:
    """Upgrade the database to head (a fresh engine: the rows above were written by another), then
    the rows of ``query``."""
    db.get_engine(url).dispose()
    db.upgrade(url)
    with db.get_engine(url).connect() as connection:
        return list(connection.execute(text(query)).all())


def merge_items_after_0022(url: str) -> list[tuple[str, bool]]:
    """(key, merge_items IS NULL) of a plain letter stored at 0021 with JSON null (as Core stored
    None then) and a merged reminder, after upgrading to head."""
    db.upgrade(url, "0021_submission_one_key")
    sqlite = url.startswith("sqlite")
    stamp = "2023-04-18 10:00:00"
    with db.get_engine(url).begin() as connection:
        for key, items in (("letter", "null"), ("reminders", '[{"action_key": "a1"}]')):
            connection.execute(text(
                "INSERT INTO outbox_message (id, idempotency_key, action, unit_code, channel, logical_date, subject,"
                " body, status, attempts, created_at, merge_items) VALUES (:id, :key, 'a', 'c1', 'sink',"
                f" '2023-04-18', 's', 'b', 'queued', 0, :t, {'CAST(:items AS json)' if not sqlite else ':items'})"),
                {"id": _new_id(url), "key": key, "t": stamp, "items": items})
    found = _upgraded_and_read(url, "SELECT idempotency_key, merge_items IS NULL FROM outbox_message"
                                    " ORDER BY idempotency_key")
    return [(str(key), bool(null)) for key, null in found]


_DECIDE = ("INSERT INTO decision (id, round_id, stage, decides, subject, outcome, decided_by, note, decided_at)"
           " VALUES (:id, :rid, 'review', 'application', :subject, :outcome, 'cli:test', '', '2023-04-18 10:00:00')")


def tokens_after_0023(url: str) -> tuple[bool, bool]:
    """Whether a round with decisions stored at 0022, and one without, have a decisions token
    after upgrading to head (the first must: its readers would otherwise keep nothing)."""
    from qcycle import crud

    db.upgrade(url, "0022_outbox_merge_items_null")
    with db.get_engine(url).begin() as connection:
        decided, undecided = _round_rows(connection, url, ["r1", "r2"])
        connection.execute(text(_DECIDE), {"id": _new_id(url), "rid": decided, "subject": "c1", "outcome": "approved"})
    db.get_engine(url).dispose()
    db.upgrade(url)
    with db.session_scope(url) as session:
        first, second = (crud.decisions_token(session=session, round_id=uuid.UUID(str(rid)))
                         for rid in (decided, undecided))
    return first is not None, second is not None


def decision_tokens(url: str) -> dict[str, list[str | None]]:
    """A round's decisions token at head (:func:`qcycle.crud.decisions_token`) around writes in
    plain SQL (as an officer's correction would be): ``writes``: round r0's before any decision,
    then after an insert, an upsert changing the outcome, an update and a delete; ``moved``:
    r0's and r1's before and after a decision of r0 is moved to r1."""
    from qcycle import crud

    db.upgrade(url)
    with db.get_engine(url).begin() as connection:
        rounds = _round_rows(connection, url, ["r0", "r1"])

    def token(rid: object) -> str | None:
        with db.session_scope(url) as session:
            return crud.decisions_token(session=session, round_id=uuid.UUID(str(rid)))

    def write(sql: str, **values: object) -> None:
        with db.get_engine(url).begin() as connection:
            connection.execute(text(sql), {"id": _new_id(url), "rid": rounds[0], "subject": "c1", **values})

    writes = [token(rounds[0])]
    for sql, values in [
        (_DECIDE, {"outcome": "approved"}),
        (_DECIDE + " ON CONFLICT (round_id, stage, subject) DO UPDATE SET outcome = excluded.outcome",
         {"outcome": "rejected"}),
        ("UPDATE decision SET note = '更正' WHERE round_id = :rid", {}),
        ("DELETE FROM decision WHERE round_id = :rid", {}),
    ]:
        write(sql, **values)
        writes.append(token(rounds[0]))
    write(_DECIDE, outcome="approved")
    moved = [token(rounds[0]), token(rounds[1])]
    write("UPDATE decision SET round_id = :other WHERE round_id = :rid", other=rounds[1])
    return {"writes": writes, "moved": [*moved, token(rounds[0]), token(rounds[1])]}


_HAND_IN = ("INSERT INTO submission (id, round_id, kind, stage, unit_code, item_code, fingerprint, payload, submitted_at,"
            " source, late, status, received_at, identity, revisions) VALUES (:id, :rid, 'application', :stage, :unit,"
            " 'i1', :fp, '{}', '2023-04-12 10:00:00', 'sql', FALSE, 'accepted', '2023-04-12 10:00:00', :identity, 0)")


def hand_in_tokens(url: str) -> dict[str, object]:
    """The hand-ins token of stage ``application`` of a round (:func:`qcycle.crud.hand_ins_token`) around writes in
    plain SQL (an officer's correction, another program), at head: ``writes``: before any, after an insert, an update
    of its status, an update of a column the hand-ins are not read by, a move to another stage and a delete;
    ``other_stage``: the stage it moved to, before and after the move."""
    from qcycle import crud

    db.upgrade(url)
    with db.get_engine(url).begin() as connection:
        (rid,) = _round_rows(connection, url, ["r0"])

    def token(stage: str = "application") -> object:
        with db.session_scope(url) as session:
            return crud.hand_ins_token(session=session, round_id=uuid.UUID(str(rid)), stage=stage)

    def write(sql: str, **values: object) -> None:
        with db.get_engine(url).begin() as connection:
            connection.execute(text(sql), {"rid": rid, **values})

    writes, other = [token()], []
    write(_HAND_IN, id=_new_id(url), stage="application", unit="c1", fp="f1", identity="application|c1")
    writes.append(token())
    write("UPDATE submission SET status = 'rejected_late' WHERE round_id = :rid")
    writes.append(token())
    write("UPDATE submission SET answered_at = '2023-04-21 09:00:00', revisions = 1 WHERE round_id = :rid")
    writes.append(token())
    other.append(token("midterm"))
    write("UPDATE submission SET stage = 'midterm' WHERE round_id = :rid")
    writes.append(token())
    other.append(token("midterm"))
    write("DELETE FROM submission WHERE round_id = :rid")
    other.append(token("midterm"))
    return {"writes": writes, "other_stage": other}


def hand_in_token_after_0026(url: str) -> object:
    """The hand-ins token of a stage handed in at 0025, after upgrading to head."""
    from qcycle import crud

    db.upgrade(url, "0025_review_note")
    with db.get_engine(url).begin() as connection:
        (rid,) = _round_rows(connection, url, ["r0"])
        connection.execute(text(_HAND_IN), {"id": _new_id(url), "rid": rid, "stage": "application", "unit": "c1",
                                            "fp": "f1", "identity": "application|c1"})
    db.get_engine(url).dispose()
    db.upgrade(url)
    with db.session_scope(url) as session:
        return crud.hand_ins_token(session=session, round_id=uuid.UUID(str(rid)), stage="application")
