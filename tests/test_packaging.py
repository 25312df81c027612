"""Acceptance (issue "One room per concern"): qcycle installs from a wheel, not as an editable
checkout. The wheel puts one top-level package, ``qcycle``, into site-packages (the layers and
the shipped configuration inside it), and the installed command plans and simulates a shipped
programme from a folder that is not the checkout.

It plans the national round (sc-jbgs-2023) and simulates the shipped round with the fewest
moments (yy-government-quality-award-2026: 15 moments, three channels, ~20 s of simulation
instead of ~55 s for the 55 moments of the national one): what is tested is the installed
package, its configuration and its command, not the length of a round.

The wheel is built without build isolation (the dev extra has setuptools and wheel) from a copy
of the sources, so the checkout gets no ``build/``; the fresh venv reaches the dependencies
through a path file pointing at this venv's site-packages: nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.prefect_proc import REPO, clean_env, seed_prefect_home

pytestmark = [pytest.mark.slow, pytest.mark.server]

SOURCES = ("qcycle", "flows", "tasks", "deploy", "config", "pyproject.toml", "README.md")


def _run(args: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=600, **kw)


def _wheel(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(source, src / name)
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                  "-w", str(tmp_path / "dist"), str(src)], env=clean_env())
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("qcycle-*.whl")
    return wheel


def _venv(tmp_path: Path, wheel: Path) -> tuple[Path, Path]:
    venv = tmp_path / "venv"
    created = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                .stdout.strip())
    installed = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                      "--no-index", str(wheel)], env=clean_env())
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # The dependencies: this venv's, as a plain path (its .pth files, the editable finder of
    # the checkout among them, are not read from there).
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return venv, site


def test_the_wheel_holds_one_package_and_its_command_plans_and_simulates(tmp_path, prefect_template):
    wheel = _wheel(tmp_path)
    venv, site = _venv(tmp_path, wheel)
    top = {p.name for p in site.iterdir()} - {"dependencies.pth", "__pycache__"}
    assert top == {"qcycle", "qcycle-0.1.0.dist-info"}, top
    programme = site / "qcycle" / "config" / "programmes" / "sc-jbgs-2023.yaml"
    smallest = programme.with_name("yy-government-quality-award-2026.yaml")
    assert programme.is_file() and (site / "qcycle" / "config" / "templates" / "reminder.j2").is_file()

    work = tmp_path / "work"  # not the checkout: nothing of it on the path
    work.mkdir()
    prefect_home = seed_prefect_home(work / "prefect", prefect_template)  # migrated already
    env = clean_env(QCYCLE_HOME=str(work / "home"), PREFECT_HOME=str(prefect_home))
    env.pop("PYTHONPATH", None)
    code = ("import qcycle.flows.lifecycle as f, qcycle.settings as s; "
            "print(f.__file__); print(s.get_settings().config_dir)")
    where = _run([str(venv / "bin" / "python"), "-c", code], cwd=work, env=env)
    assert where.returncode == 0, where.stderr
    flows_file, config_dir = where.stdout.split()
    assert Path(flows_file).is_relative_to(site) and Path(config_dir) == site / "qcycle" / "config"

    qcycle = str(venv / "bin" / "qcycle")
    planned = _run([qcycle, "plan", str(programme)], cwd=work, env=env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "sc-jbgs-2023" in planned.stdout and "2023-04-20 17:30" in planned.stdout

    home = work / "simulated"
    simulated = _run([qcycle, "simulate", str(smallest), "--home", str(home)], cwd=work,
                     env=env | {"COLUMNS": "200"})
    assert simulated.returncode == 0, simulated.stdout[-3000:] + simulated.stderr[-3000:]
    letters = [p for p in (home / "sink").rglob("*") if p.is_file()] if (home / "sink").is_dir() else []
    assert letters, os.listdir(home)
    assert not (work / "config").exists()  # the configuration came from the wheel
