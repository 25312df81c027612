"""Tasks that take submissions in: pull an HTTP source, import a file (no SQL here)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE
from qcycle.tasks.retrying import worth_retrying
from qcycle.tasks.runlog import run_name

from qcycle import db
from qcycle.intake.files import import_file
from qcycle.intake.http import HttpSource, pull_into_database
from qcycle.intake.report import ImportReport

__all__ = ["import_records_file", "pull_http_source"]


@task(name="拉取提交材料", cache_policy=NONE, retries=2, retry_delay_seconds=[60, 300],
      retry_condition_fn=worth_retrying, task_run_name=run_name("拉取提交材料"))  # fmt: skip
def pull_http_source(
    programme_file: str,
    url: str,
    token_env: str | None = None,
    page_size: int = 100,
    timeout: float = 10,
    retries: int = 4,
    deadline: float | None = None,
    max_page_bytes: int | None = None,
    allow_redirects_to: list[str] | None = None,
) -> ImportReport:
    """Pull every page of the source into the round (stored once; bad pages quarantined).

    ``deadline``, ``max_page_bytes``: None keeps :class:`HttpSource`'s defaults."""
    bounds = {k: v for k, v in (("deadline", deadline), ("max_page_bytes", max_page_bytes)) if v is not None}
    source = HttpSource(url=url, token_env=token_env, page_size=page_size, timeout=timeout,
                        retries=retries, allow_redirects_to=tuple(allow_redirects_to or ()),
                        **bounds)  # fmt: skip
    return pull_into_database(source=source, programme=programme_file)


@task(name="导入材料文件", cache_policy=NONE, retries=0, task_run_name=run_name("导入材料文件"))
def import_records_file(
    path: str,
    programme_file: str,
    sheet: str | None = None,
    default_kind: str | None = None,
) -> ImportReport:
    """Import a CSV/XLSX/JSON file into the round (unreadable rows quarantined with their line)."""
    with db.session_scope() as session:
        return import_file(path=path, programme=programme_file, session=session, sheet=sheet,
                           default_kind=default_kind)  # fmt: skip
