"""Submissions pulled from an HTTP JSON endpoint (a provincial platform, a form service).

Configuration is an :class:`HttpSource`: the URL, the *name* of the environment variable that
holds the bearer token (never the token: it stays out of config, parameters, logs, errors and the
database), paging, timeout and retries. Pages are fetched with ``?page=N&page_size=M`` and
followed until a ``next`` link runs out, ``has_more`` is false or a page is empty.

Bounded in time and size: ``timeout`` covers a whole request (connect, headers, body; a watchdog
shuts the socket at the deadline, so a server dripping bytes cannot hold it open), ``deadline``
the whole pull (pages, retries, waits). Bodies are streamed; a page over ``max_page_bytes`` is
quarantined (its first bytes and where it was) and the pull stops there, since the same page
would be too big again and skipping it would leave a silent gap. Redirects are followed only
within the URL's origin, or to origins listed in ``allow_redirects_to``; the token never leaves
the source's own origin.

Connect errors, timeouts, HTTP 5xx and 429 are retried with exponential backoff and jitter
(``Retry-After`` is honoured). A page that is not JSON, or not a list of records, is kept in
quarantine and the pull goes on to the next page when the paging allows it; when the source
fails as a whole, :class:`SourceFailed` (an :class:`~qcycle.errors.IntakeError`) names the URL
and what happened (``kind``: what kind of failure), and carries the report of what was taken
before; the report's ``stopped`` says why the pull ended early.

Modules: :mod:`~qcycle.intake.http.source` (the configuration and its failure),
:mod:`~qcycle.intake.http.fetcher` (one bounded GET) and :mod:`~qcycle.intake.http.pull` (the
pages into the round). Import from ``qcycle.intake.http``.
"""

from __future__ import annotations

from qcycle.intake.http.pull import pull_http, pull_into_database
from qcycle.intake.http.source import FailureKind, HttpSource, SourceFailed, safe_url

__all__ = [
    "FailureKind",
    "HttpSource",
    "SourceFailed",
    "pull_http",
    "pull_into_database",
    "safe_url",
]
