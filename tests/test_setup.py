"""The setup that `make lab` / `make test` perform: environment files in step, clear errors on bad input."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None

# conda-forge names the same distribution differently
CONDA_NAMES = {"torch": "pytorch"}


def _norm(requirement: str):
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    name, spec = m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")
    return CONDA_NAMES.get(name, name), spec


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_environment_yml_matches_pyproject():
    import yaml

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(map(_norm, project["dependencies"] + project["optional-dependencies"]["test"]))
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(_norm(d) for d in env["dependencies"] if isinstance(d, str) and not d.startswith(("python", "pip")))
    assert conda == wanted, (f"environment.yml and pyproject.toml disagree:\n only in environment.yml: "
                             f"{ {k: v for k, v in conda.items() if wanted.get(k) != v} }\n only in pyproject: "
                             f"{ {k: v for k, v in wanted.items() if conda.get(k) != v} }")
    assert project["requires-python"] == ">=3.10" and "python>=3.10" in env["dependencies"]


def _make_copy(tmp_path):
    for name in ("Makefile", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_make_refuses_an_old_python(tmp_path):
    course = _make_copy(tmp_path)
    fake = tmp_path / "python3.8"
    fake.write_text("#!/bin/sh\ncase \"$*\" in *-V*) echo 'Python 3.8.18';; esac\nexit 1\n")
    fake.chmod(0o755)
    proc = subprocess.run(["make", "setup", f"PYTHON={fake}"], cwd=course, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "needs Python 3.10 or newer" in proc.stdout + proc.stderr and "Python 3.8.18" in proc.stdout
    assert not (course / ".venv").exists()


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="checks the CPU path of the torch step")
def test_make_offline_without_a_torch_wheel_says_what_to_do(tmp_path):
    course = _make_copy(tmp_path)
    base_python = shutil.which("python3", path=os.path.join(sys.base_prefix, "bin")) or sys.executable
    subprocess.run([base_python, "-m", "venv", str(course / ".venv")], check=True, timeout=300)
    # no index, no wheel folder, no pip.conf: what a laptop without network and without a cache sees
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL="http://127.0.0.1:9/simple", PIP_RETRIES="0", PIP_TIMEOUT="2")
    proc = subprocess.run(["make", "torch", "TORCH_CPU_INDEX=http://127.0.0.1:9/whl/cpu"], cwd=course, env=env,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "no CPU build of torch could be installed" in out and "PIP_FIND_LINKS" in out, out


def test_second_setup_installs_nothing():
    """The stamp is newer than its inputs, so make has nothing to do (when the venv was made by make)."""
    if not (ROOT / ".venv" / ".course-installed").is_file():
        pytest.skip("this checkout's .venv was not created by `make setup`")
    proc = subprocess.run(["make", "-q", "setup"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, ("make considers .venv out of date: pyproject.toml or the Makefile is newer than "
                                  "the last setup (run `make setup`), or the stamp logic re-installs every time")


def test_ci_calls_make_test():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^\s*(exec\s+)?make test\b", ci, re.M), ".ci/run must run the README's test command"
    assert "make test" in (ROOT / "README.md").read_text()
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
