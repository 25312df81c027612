"""Which task failures are worth a retry: a wrong file, a refused state or a bad record fails the
same way next time (qcycle's own errors, unless they say ``retryable``); a locked database, a
dropped connection or an outage may not."""

from __future__ import annotations

from typing import Any

from qcycle.errors import QcycleError

__all__ = ["worth_retrying"]


def worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's ``retry_condition_fn``: retry unless the failure is one of qcycle's own
    deterministic errors (its message is in the run's log once, not three times)."""
    exc = state.result(raise_on_failure=False)
    return exc.retryable if isinstance(exc, QcycleError) else True
