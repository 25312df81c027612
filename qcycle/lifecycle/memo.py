"""What selections are computed from, read once: within :func:`remembering` (a pass where nothing
is decided meanwhile), every read; across passes, what was read from a round's decisions, while the
round's decisions token stands (:class:`ByDecisions`), and from a stage's hand-ins, while its hand-ins
token stands (:class:`ByHandIns`); and what a programme alone decides of each subject (its category,
its unit), while the programme lives (:func:`filtered`)."""

from __future__ import annotations

import abc
import contextlib
import contextvars
import itertools
import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from collections.abc import Set as AbstractSet
from typing import Any

from sqlmodel import Session

from qcycle import crud

__all__ = ["ByDecisions", "ByHandIns", "ByToken", "filtered", "from_decisions", "from_hand_ins", "identity", "kept",
           "remembered", "remembering"]

_memo: contextvars.ContextVar[dict[tuple, Any] | None] = contextvars.ContextVar("qcycle_lifecycle_memo",
                                                                              default=None)


@contextlib.contextmanager
def remembering() -> Iterator[None]:
    """Within the block, selections, and the decisions, results and hand-ins they are computed
    from, are read once.
    For passes where nothing is decided meanwhile (a status report, the simulated world's
    planning): ~30 past deadlines each ask again at national scale."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def remembered(key: tuple, read: Callable[[], Any]) -> Any:
    memo = _memo.get()
    if memo is None:
        return read()
    key = (crud.recorded_moment(), *key)  # read as of a moment (status --as-of): kept apart
    return memo[key] if key in memo else memo.setdefault(key, read())


class ByToken(abc.ABC):
    """What was read from a round's records, kept across calls while a token of what it read from
    (:meth:`token`: for a ``scope`` of the round) stands. Values are immutable (frozensets,
    read-only mappings); the least recently used go first. A kind of record is a subclass
    (:class:`ByDecisions`, :class:`ByHandIns`): it says which token stands for it."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.kept: OrderedDict[tuple, Any] = OrderedDict()
        self.lock = threading.Lock()

    @abc.abstractmethod
    def token(self, session: Session, round_id: uuid.UUID, scope: tuple) -> Hashable | None:
        """What the values of ``scope`` (of the round) are kept under; None: read, keep nothing."""

    def __call__(self, session: Session, round_id: uuid.UUID, key: tuple, read: Callable[[], Any],
                 keep: bool = True, scope: tuple = ()) -> Any:
        token = self.token(session, round_id, scope)
        if token is None:  # nothing to keep under: never decided; hand-ins as of a moment, or on PostgreSQL
            return read()
        database = str(session.get_bind().engine.url)
        where = (database, round_id, scope, token, crud.recorded_moment(), *key)
        with self.lock:
            if where in self.kept:
                self.kept.move_to_end(where)
                return self.kept[where]
        value = read()
        if not keep:
            return value
        # Kept only if nothing changed while it was read (another writer's commit between the token
        # and the rows would otherwise file new rows under the old token, or old rows under the new one).
        if self.token(session, round_id, scope) == token:
            with self.lock:
                # What was kept under the scope's earlier tokens goes (a session still seeing one reads
                # its rows again).
                for old in [k for k in self.kept if k[:3] == (database, round_id, scope) and k[3] != token]:
                    del self.kept[old]
                self.kept[where] = value
                while len(self.kept) > self.size:
                    self.kept.popitem(last=False)
        return value


class ByDecisions(ByToken):
    """What was read from a round's decisions, kept while the round's decisions token
    (:func:`qcycle.crud.decisions_token`) stands: a national round's selections read ~10,000
    decisions again for every action otherwise, where nothing was decided meanwhile."""

    def token(self, session: Session, round_id: uuid.UUID, scope: tuple) -> Hashable | None:
        return crud.decisions_token(session=session, round_id=round_id)


class ByHandIns(ByToken):
    """What was read from a stage's hand-ins (``scope``: the stage), kept while its hand-ins token
    (:func:`qcycle.crud.hand_ins_token`) stands: the accepted subjects and who handed a window in, asked
    at every moment of a national round about windows closed months before. Nothing is kept of the
    hand-ins as they stood at a moment (``status --as-of`` reads their earlier versions too), nor on
    PostgreSQL."""

    def token(self, session: Session, round_id: uuid.UUID, scope: tuple) -> Hashable | None:
        if crud.recorded_moment() is not None:
            return None
        return crud.hand_ins_token(session=session, round_id=round_id, stage=scope[0])


_by_decisions = ByDecisions()
_by_hand_ins = ByHandIns()


def from_decisions(session: Session, round_id: uuid.UUID, key: tuple, read: Callable[[], Any]) -> Any:
    """``read``'s value, kept while the round's decisions stand (:class:`ByDecisions`). Within a pass, what is worked
    out is the pass's only: it may be made of the pass's own reads, older than the token (another process decided
    meanwhile), and would have been kept under the new one after the pass."""
    keep = _memo.get() is None
    return remembered(key, lambda: _by_decisions(session, round_id, key, read, keep))


def from_hand_ins(session: Session, round_id: uuid.UUID, stage: str, key: tuple, read: Callable[[], Any]) -> Any:
    """``read``'s value (of the stage's hand-ins alone), kept while they stand (:class:`ByHandIns`); within a pass, as
    :func:`from_decisions` has it."""
    keep = _memo.get() is None
    return remembered(key, lambda: _by_hand_ins(session, round_id, key, read, keep, scope=(stage,)))


def kept(session: Session, round_id: uuid.UUID, programme: Any, by_decisions: bool, key: tuple,
         read: Callable[[], Any]) -> Any:
    """What ``read`` gives of ``programme`` (its :func:`identity` joins ``key``): kept while the round's decisions
    stand where they and the programme alone decide it (``by_decisions``, :func:`from_decisions`), else
    :func:`remembered`."""
    key = (*key, identity(programme))
    return from_decisions(session, round_id, key, read) if by_decisions else remembered(key, read)


_identities: dict[int, int] = {}
_next_identity = itertools.count(1)
_identities_lock = threading.Lock()


def identity(owner: Any) -> int:
    """A number for ``owner`` (a programme) while it lives, never given to another object: a key of what
    :class:`ByDecisions` keeps, which outlives a pass. ``id(owner)`` is taken again by a later object once the
    owner is freed (a programme amended, or read again by a long-running worker)."""
    with _identities_lock:
        number = _identities.get(id(owner))
        if number is None:
            # Run as the owner is freed, before its id can be another object's; first, as it raises for an object
            # that cannot be weakly referenced, whose number would otherwise stay for the next at its address.
            weakref.finalize(owner, _identities.pop, id(owner), None)
            number = _identities[id(owner)] = next(_next_identity)
        return number


# Each owner's verdicts, by its id and then the key: (kept, dropped). An owner's go when it does.
_verdicts: dict[int, dict[tuple, tuple[set[str], set[str]]]] = {}
_verdicts_lock = threading.Lock()


def filtered(owner: Any, key: tuple, values: AbstractSet[str], keep: Callable[[str], bool]) -> set[str]:
    """``{v for v in values if keep(v)}``, each value's verdict remembered under ``key`` for as long
    as ``owner`` (a programme; ``keep`` must depend on nothing but the owner and the key) lives: the
    values are the round's subjects, asked about again at every moment, and set operations answer
    for those seen before."""
    with _verdicts_lock:
        mine = _verdicts.get(id(owner))
        if mine is None:
            mine = _verdicts[id(owner)] = {}
            # Run as the owner is freed, before its id can be another object's.
            weakref.finalize(owner, _verdicts.pop, id(owner), None)
        kept, dropped = mine.setdefault(key, (set(), set()))
        unseen = values - kept - dropped
    said = [(value, keep(value)) for value in unseen]
    with _verdicts_lock:
        for value, kept_it in said:
            (kept if kept_it else dropped).add(value)
        return kept.intersection(values)
