"""qcycle's own lines in each run's log (the Logs tab of a run in Prefect's UI).

Flows and tasks say what they did through :func:`run_log` (logger ``qcycle.run``, INFO): the
round and moment a run is for, how many actions it carried out or skipped and why, what was
queued, sent, failed or taken over from a crashed run. The lines go to the Prefect API of the
run they are written in, whatever ``PREFECT_LOGGING_LEVEL`` says: operators keep Prefect's own
chatter at WARNING (it is most of the API traffic of a run) and still read qcycle's lines.

Warnings of the domain core (logger ``qcycle``: a calendar year not covered, an intake page
quarantined) reach the run's log too. Outside a run (the CLI, tests without Prefect) the lines
are dropped without a warning; the CLI prints its own summary.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from prefect.exceptions import MissingContextError
from prefect.logging.handlers import APILogHandler

from qcycle.errors import QcycleError

__all__ = ["PREFECT_RUN_LOGGERS", "RUN_LOGGER", "ExpectedFailure", "install", "run_log", "run_name"]

RUN_LOGGER = "qcycle.run"


class RunLogHandler(APILogHandler):
    """Prefect's API handler, silent outside a flow or task run."""

    def handleError(self, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], MissingContextError):
            return
        super().handleError(record)


class ExpectedFailure(logging.Filter):
    """A run that fails on qcycle's own error (an assessment with too few scores, a programme
    file with a mistake) is logged by Prefect with its traceback: two screens of Python on the
    console of ``qcycle reconcile`` before the one line that says what is wrong. The error's
    message says it all; its traceback is dropped, other exceptions keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], QcycleError):
            record.exc_info, record.exc_text = None, None
        return True


# Where Prefect's engines log a failed run, with ``exc_info``.
PREFECT_RUN_LOGGERS = ("prefect.task_runs", "prefect.flow_runs")


def install() -> None:
    """Attach the handlers (once per process; Prefect's own logging setup leaves them)."""
    run = logging.getLogger(RUN_LOGGER)
    if any(isinstance(h, RunLogHandler) for h in run.handlers):
        return
    for name in PREFECT_RUN_LOGGERS:
        logging.getLogger(name).addFilter(ExpectedFailure())
    run.setLevel(logging.INFO)
    run.addHandler(RunLogHandler())
    run.propagate = False  # not to the console: the run's page is where these are read
    core = logging.getLogger("qcycle")
    warnings = RunLogHandler(level=logging.WARNING)
    core.addHandler(warnings)


def run_log() -> logging.Logger:
    """The logger whose INFO lines land in the current run's log."""
    install()
    return logging.getLogger(RUN_LOGGER)


def run_name(label: str, *, flow: bool = False) -> Callable[[], str]:
    """A ``task_run_name`` (or, with ``flow``, a ``flow_run_name``): "<round code>·<label>·
    <moment>" from the run's parameters (``round_code`` or ``programme_file``; ``as_of``, else
    a flow run's scheduled time), so every run in the UI says which round and moment it is."""

    def name() -> str:
        from prefect.runtime import flow_run, task_run
        from qcycle.tasks.rounds import round_code_of

        from qcycle import clock

        params = (flow_run if flow else task_run).parameters
        code = params.get("round_code") or round_code_of(params.get("programme_file", "?"))
        when = params.get("as_of") or (flow_run.scheduled_start_time if flow else None)
        return f"{code}·{label}" + (f"·{clock.to_local(when):%Y-%m-%d %H:%M}" if when else "")

    return name
