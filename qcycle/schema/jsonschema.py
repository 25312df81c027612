"""The programme file as JSON Schema (``qcycle schema``), for editors."""

from __future__ import annotations

from qcycle.schema.programme import Programme

__all__ = ["programme_json_schema"]


def programme_json_schema() -> dict:
    """The programme file as JSON Schema, for editors (completion, red underlines)."""
    schema = Programme.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "qcycle programme file (version 2)"
    return schema
