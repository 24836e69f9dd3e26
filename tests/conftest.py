"""Shared fixtures: the course root, module discovery from the file system, and nbgrader helpers.

Modules are found from the file system (``lectures/NN_slug.ipynb``, ``solutions/NN_slug/NN_slug.ipynb``),
so a new module is covered by every test here without touching this file.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Test this checkout (not whichever copy of reference_impl happens to be installed), in-process
# and in every kernel or nbgrader process the tests start.
sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("COURSE_DEVICE", "cpu")
# pytest-xdist runs one worker per core: one thread each (and in every kernel they start) avoids
# oversubscribing the cores, which slows small torch workloads down many times over.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

SLUG_GLOB = "[0-9][0-9]_*"


def lecture_slugs():
    return sorted(p.stem for p in (ROOT / "lectures").glob(f"{SLUG_GLOB}.ipynb"))


def assignment_slugs():
    return sorted(p.name for p in (ROOT / "solutions").glob(SLUG_GLOB) if (p / f"{p.name}.ipynb").is_file())


def grouped(slugs, prefix=""):
    """pytest params that pytest-xdist (--dist loadgroup) keeps on one worker per slug, so that
    module-level caches (one autograded course per assignment) are built once."""
    return [pytest.param(s, id=s, marks=pytest.mark.xdist_group(f"{prefix}{s}")) for s in slugs]


def all_notebooks():
    found = []
    for folder in ("lectures", "solutions", "exercises"):
        found += sorted((ROOT / folder).rglob("*.ipynb"))
    return [p for p in found if ".ipynb_checkpoints" not in p.parts]


def run_nbgrader(course: Path, *args, check=True, timeout=600):
    """Run ``nbgrader ARGS`` in ``course``; on failure show nbgrader's own log."""
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def make_course(tmp: Path, slugs) -> Path:
    """A throwaway copy of the course (config + the given source assignments) in ``tmp``."""
    course = tmp / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    for slug in slugs:
        shutil.copytree(ROOT / "solutions" / slug, course / "solutions" / slug,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return course


def submit(course: Path, student: str, slug: str, notebook) -> Path:
    """Place ``notebook`` (a path or an nbformat node) as ``student``'s submission of ``slug``."""
    import nbformat

    dest = course / "grading" / "submitted" / student / slug / f"{slug}.ipynb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(notebook, (str, Path)):
        shutil.copy(notebook, dest)
    else:
        nbformat.write(notebook, str(dest))
    return dest


def cell_scores(course: Path, slug: str, student: str) -> dict:
    """``{grade_id: (score, max_score)}`` for one autograded submission, read from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + str(course / "grading" / "gradebook.db")) as gb:
        sub = gb.find_submission(slug, student)
        return {g.name: (float(g.score), float(g.max_score)) for nb in sub.notebooks for g in nb.grades}


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture
def one_thread():
    """Small models train fastest on one torch thread (and do not fight other test workers for cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
