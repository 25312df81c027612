"""The language reference (docs/programme-language.md) is kept true against the schema: every key
of every object is documented under that object, nothing documented is missing from the schema,
the full example loads, and the JSON Schema for editors is the one the schema gives today."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

from pydantic import BaseModel

from qcycle.loader import load_programme
from qcycle.schema import Programme, programme_json_schema

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "programme-language.md"


def _models(annotation: typing.Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def schema_keys() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    todo = [Programme]
    while todo:
        model = todo.pop()
        if model.__name__ in out:
            continue
        out[model.__name__] = set(model.model_fields)
        for field in model.model_fields.values():
            todo += _models(field.annotation)
    return out


def documented_keys() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    current = None
    models = set(schema_keys())
    for line in DOC.read_text(encoding="utf-8").splitlines():
        names = [n for n in re.findall(r"`(\w+)`", line) if n in models]
        if line.startswith("#") or re.match(r"^`\w+`：", line):
            current = names[0] if names else (None if line.startswith("#") else current)
            continue
        row = re.match(r"^\| `(\w+)` \|", line)
        if row and current:
            out.setdefault(current, set()).add(row.group(1))
    return out


def test_every_key_of_the_schema_is_documented_under_its_object():
    documented = documented_keys()
    missing = {m: sorted(keys - documented.get(m, set())) for m, keys in schema_keys().items()}
    assert {m: k for m, k in missing.items() if k} == {}


def test_nothing_documented_is_missing_from_the_schema():
    keys = schema_keys()
    extra = {m: sorted(k - keys.get(m, set())) for m, k in documented_keys().items()}
    assert {m: k for m, k in extra.items() if k} == {}


def examples() -> list[str]:
    return re.findall(r"```yaml programme\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def test_the_full_examples_load_with_nothing_to_look_at(tmp_path):
    assert len(examples()) >= 3
    for i, example in enumerate(examples()):
        path = tmp_path / f"example-{i}.yaml"
        path.write_text(example, encoding="utf-8")
        loaded = load_programme(path)
        assert loaded.programme.version == 2 and loaded.notices == ()


def test_every_key_has_an_example():
    blocks = "\n".join(re.findall(r"```yaml[^\n]*\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL))
    keys = {k for ks in schema_keys().values() for k in ks}
    assert sorted(k for k in keys if not re.search(rf"(^|[\s{{,]){k}:", blocks, re.MULTILINE)) == []


def test_the_editor_schema_is_current():
    shipped = json.loads((ROOT / "docs" / "programme.schema.json").read_text(encoding="utf-8"))
    assert shipped == programme_json_schema(), "run: qcycle schema --out docs/programme.schema.json"
