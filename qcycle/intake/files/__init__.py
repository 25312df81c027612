"""Submissions from files: CSV, XLSX and JSON / JSON Lines, as offices export them.

CSV may be UTF-8 (with or without BOM), UTF-16 ("Unicode 文本") or GB18030 (Excel and WPS on
Chinese Windows): the encoding is detected. Headers may be English keys or Chinese
(see :mod:`qcycle.intake.normalise`). A row that cannot be read (wrong column count, a broken
JSON line) is quarantined with its raw text and its line number; a file that cannot be read at
all raises :class:`~qcycle.errors.IntakeError` before anything is stored.

Modules: :mod:`~qcycle.intake.files.detect` (format, encoding, one scan of the bytes),
:mod:`~qcycle.intake.files.tabular` (CSV, XLSX), :mod:`~qcycle.intake.files.jsonfiles` (JSON,
JSON Lines), :mod:`~qcycle.intake.files.reading` (a file's rows) and
:mod:`~qcycle.intake.files.importing` (the rows into a round, in batches). Import from
``qcycle.intake.files``.
"""

from __future__ import annotations

from qcycle.intake.files.detect import FileRow, FileScan, RecordFile, decode_text, scan_file
from qcycle.intake.files.importing import BATCH_ROWS, import_file, import_file_in_batches

# Importable (bench/intake.py), not in __all__, as before the split.
from qcycle.intake.files.importing import DEFER_INDEX_ROWS as DEFER_INDEX_ROWS
from qcycle.intake.files.reading import open_file, read_file

__all__ = ["BATCH_ROWS", "FileRow", "FileScan", "RecordFile", "decode_text", "import_file",
           "import_file_in_batches", "open_file", "read_file", "scan_file"]
