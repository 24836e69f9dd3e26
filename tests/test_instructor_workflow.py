"""The instructor's commands (reference_impl.course, behind `make release/autograde/feedback/grades`)
on a throwaway copy of the course, with broken submissions among good ones.

A corrupted submission (invalid JSON, deleted cells, a kernel that dies) is reported with a reason,
every other student is graded, and nothing already in the gradebook is lost.
"""
import csv
import os
import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT, cell_scores, make_course

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("instructor")]
SLUG = "00_getting_started"


def course_cmd(course, *args):
    return subprocess.run([sys.executable, "-m", "reference_impl.course", *args], cwd=course,
                          capture_output=True, text=True, timeout=900)


def put(course, student, nb):
    dest = course / "grading" / "submitted" / student / SLUG / f"{SLUG}.ipynb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, str):
        dest.write_text(nb)
    else:
        nbformat.write(nb, str(dest))


def edited(source, grade_id, old, new):
    nb = nbformat.reads(nbformat.writes(source), as_version=4)
    cell = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    return nb


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("instructor"), [SLUG])
    proc = course_cmd(course, "release")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    source = nbformat.read(str(course / "solutions" / SLUG / f"{SLUG}.ipynb"), as_version=4)

    # first round: one good student
    put(course, "ada", source)
    first = course_cmd(course, "autograde")
    assert first.returncode == 0, first.stdout + first.stderr

    # second round: more good students and every kind of broken submission
    put(course, "grace", source)
    put(course, "not_json", '{"cells": [')
    deleted = nbformat.reads(nbformat.writes(source), as_version=4)
    deleted.cells = [c for c in deleted.cells
                     if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != "test_softmax_stable"]
    put(course, "deleted_cell", deleted)
    put(course, "kernel_dies", edited(source, "cross_entropy", "### BEGIN SOLUTION",
                                      "### BEGIN SOLUTION\n    import os; os._exit(1)"))
    put(course, "edited_test", edited(edited(source, "test_cross_entropy", '"""cross_entropy',
                                             'assert True\n"""cross_entropy'),
                                      "cross_entropy", "-np.mean(", "-np.sum("))
    (course / "grading" / "submitted" / "wrong_folder" / "99_no_such_assignment").mkdir(parents=True)
    second = course_cmd(course, "autograde")
    return course, second


def test_broken_submissions_are_reported_and_others_graded(graded_course):
    course, proc = graded_course
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, "autograde must signal that some submissions could not be graded"
    assert "3 of 7 submissions could not be graded" in out, out[-3000:]
    row = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert "NotJSONError" in row["not_json"]
    assert "Kernel died" in row["kernel_dies"] or "DeadKernelError" in row["kernel_dies"]
    assert "no assignment called" in row["wrong_folder"]
    for good in ("ada", "grace"):
        scores = cell_scores(course, SLUG, good)
        assert all(s == m for s, m in scores.values()), f"{good} lost points: {scores}"


def test_deleted_and_edited_test_cells_are_restored_and_cost_points(graded_course):
    course, _ = graded_course
    deleted = cell_scores(course, SLUG, "deleted_cell")
    assert deleted["test_softmax_stable"][0] == 0
    assert sum(s for s, _ in deleted.values()) == sum(m for _, m in deleted.values()) - deleted["test_softmax_stable"][1]
    edited_scores = cell_scores(course, SLUG, "edited_test")
    assert edited_scores["test_cross_entropy"][0] == 0, "an edited test cell must be restored from the source"


def test_gradebook_keeps_every_row_and_exports(graded_course):
    course, _ = graded_course
    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + str(course / "grading" / "gradebook.db")) as gb:
        students = {s.id for s in gb.students}
        assert {"ada", "grace", "deleted_cell", "edited_test"} <= students
        assert [a.name for a in gb.assignments] == [SLUG]
    proc = course_cmd(course, "grades")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(course / "grading" / "grades.csv") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert float(rows["ada"]["score"]) == float(rows["ada"]["max_score"]) == 12.0
    proc = course_cmd(course, "feedback")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = course / "grading" / "feedback" / "ada" / SLUG / f"{SLUG}.html"
    assert html.is_file() and "Score" in html.read_text()


def test_makefile_targets_call_the_instructor_commands():
    text = (ROOT / "Makefile").read_text()
    for target in ("release", "autograde", "feedback", "grades"):
        assert f"reference_impl.course {target}" in text


def test_make_html_renders_a_lecture_with_plots(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "reference_impl.course", "html", SLUG, "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, COURSE_FAST="1",
                                   MPLBACKEND="module://matplotlib_inline.backend_inline"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (tmp_path / f"{SLUG}.html").read_text()
    assert "Getting started" in page and "data:image/png;base64" in page, "no rendered plots in the HTML"
    assert f'href="{SLUG}.html"' in (tmp_path / "index.html").read_text()
