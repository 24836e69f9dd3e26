"""Instructor commands around nbgrader: release, autograde, feedback, grades.

Run from the course root (the Makefile does): ``python -m reference_impl.course COMMAND``.

    release      regenerate every exercises/NN_slug/ from solutions/NN_slug/ and register it in the gradebook
    autograde    grade every submission under grading/submitted/STUDENT/ASSIGNMENT/, one student at a time,
                 so that a broken submission is reported and the others are still graded
    feedback     write grading/feedback/ (HTML per student and assignment)
    grades       export the gradebook to grading/grades.csv
    status       list assignments, submissions and scores
    html         execute the lectures (full mode unless COURSE_FAST=1) and render them to _build/html/

Each nbgrader call runs in its own process; nothing here changes nbgrader's behaviour.
"""
import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SLUG_PATTERN = "[0-9][0-9]_*"


def course_root(start=None) -> Path:
    """The folder holding nbgrader_config.py (searching upwards from ``start`` or the cwd)."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file():
            return folder
    raise SystemExit(f"error: no nbgrader_config.py in {here} or above; run this from the course folder.")


def assignments(root: Path) -> list:
    """Slugs of the source assignments: solutions/NN_slug/NN_slug.ipynb."""
    return sorted(p.name for p in (root / "solutions").glob(SLUG_PATTERN)
                  if (p / f"{p.name}.ipynb").is_file())


def tool_env() -> dict:
    """The environment for nbgrader's processes: this interpreter's bin/ first on PATH (nbgrader runs
    ``alembic`` and ``jupyter`` from there)."""
    env = os.environ.copy()
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def _nbgrader(root: Path, *args, capture=True, timeout=None):
    cmd = [sys.executable, "-m", "nbgrader", *args]
    return subprocess.run(cmd, cwd=root, capture_output=capture, text=True, timeout=timeout, env=tool_env())


def _db_url(root: Path) -> str:
    return "sqlite:///" + str(root / "grading" / "gradebook.db")


def _known_assignments(root: Path) -> set:
    if not (root / "grading" / "gradebook.db").is_file():
        return set()
    from nbgrader.api import Gradebook

    with Gradebook(_db_url(root)) as gb:
        return {a.name for a in gb.assignments}


def release(root: Path, only=None) -> int:
    """Regenerate exercises/ from solutions/ with nbgrader (registers each assignment in the gradebook)."""
    (root / "grading").mkdir(exist_ok=True)
    failed = []
    for slug in only or assignments(root):
        t0 = time.time()
        proc = _nbgrader(root, "generate_assignment", slug, "--force")
        if proc.returncode != 0:
            failed.append(slug)
            print(f"FAILED  {slug}\n{proc.stdout}{proc.stderr}", file=sys.stderr)
        else:
            print(f"released {slug} -> exercises/{slug}/ ({time.time() - t0:.1f} s)")
    return 1 if failed else 0


@dataclass
class Result:
    student: str
    assignment: str
    ok: bool
    score: float = 0.0
    max_score: float = 0.0
    problem: str = ""
    seconds: float = 0.0


def _why(output: str) -> str:
    """The most telling line of nbgrader's log for a failed submission: the last exception line."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    exc = [ln for ln in lines if re.match(r"^[\w.]*(Error|Exception|Exit)\b.*:", ln)]
    if exc:
        return exc[-1][-300:]
    errors = [ln for ln in lines if "| ERROR]" in ln and "Please see" not in ln]
    return (errors[0] if errors else lines[-1] if lines else "nbgrader failed without a message")[-300:]


def _scores(root: Path, assignment: str, student: str):
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(_db_url(root)) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        return float(sub.score), float(sub.max_score)


def submissions(root: Path, only=None) -> list:
    """``[(student, assignment)]`` found under grading/submitted/."""
    base = root / "grading" / "submitted"
    found = []
    for student_dir in sorted(p for p in base.glob("*") if p.is_dir() and not p.name.startswith(".")):
        for a_dir in sorted(p for p in student_dir.glob("*") if p.is_dir()):
            if only is None or a_dir.name in only:
                found.append((student_dir.name, a_dir.name))
    return found


def autograde(root: Path, only=None, timeout=None) -> int:
    """Autograde every submission, one process per student, then print a summary table."""
    known = _known_assignments(root)
    todo = submissions(root, only)
    if not todo:
        print("Nothing to grade: put submissions at grading/submitted/STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb "
              "(or collect them with `nbgrader collect` / `nbgrader zip_collect`).")
        return 0
    source = set(assignments(root))
    results = []
    for student, assignment in todo:
        t0 = time.time()
        if assignment not in source:
            results.append(Result(student, assignment, False,
                                  problem=f"no assignment called {assignment!r} in solutions/"))
            continue
        if assignment not in known:
            if release(root, [assignment]) != 0:
                results.append(Result(student, assignment, False, problem="could not register the assignment"))
                continue
            known.add(assignment)
        try:
            proc = _nbgrader(root, "autograde", assignment, "--student", student, "--force", timeout=timeout)
            ok, out = proc.returncode == 0, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired:
            ok, out = False, f"grading took longer than {timeout} s and was stopped"
        res = Result(student, assignment, ok, seconds=time.time() - t0)
        scores = _scores(root, assignment, student) if ok else None
        if scores is None:
            res.ok = False
            res.problem = _why(out) if not ok else "graded, but no scores reached the gradebook"
        else:
            res.score, res.max_score = scores
        results.append(res)
        state = f"{res.score:g}/{res.max_score:g}" if res.ok else "NOT GRADED"
        print(f"  {student:<20} {assignment:<28} {state:>12}  ({res.seconds:.1f} s)", flush=True)
    _print_table(results)
    bad = [r for r in results if not r.ok]
    if bad:
        print(f"\n{len(bad)} of {len(results)} submissions could not be graded (see 'problem' above); "
              "the others are in the gradebook.", file=sys.stderr)
    return 1 if bad else 0


def _print_table(results):
    print("\n| student | assignment | score | problem |\n|---|---|---|---|")
    for r in results:
        score = f"{r.score:g} / {r.max_score:g}" if r.ok else "-"
        print(f"| {r.student} | {r.assignment} | {score} | {r.problem.replace('|', '/')} |")


def feedback(root: Path, only=None) -> int:
    autograded = root / "grading" / "autograded"
    graded = sorted({p.name for p in autograded.glob("*/*") if p.is_dir() and (only is None or p.name in only)})
    if not graded:
        print("Nothing autograded yet: run `make autograde` first.")
    rc = 0
    for assignment in graded:
        proc = _nbgrader(root, "generate_feedback", assignment, "--force")
        if proc.returncode:
            rc = 1
            print(f"feedback for {assignment} failed:\n{proc.stdout}{proc.stderr}", file=sys.stderr)
        else:
            print(f"feedback for {assignment} -> grading/feedback/STUDENT/{assignment}/")
    return rc


def grades(root: Path) -> int:
    out = root / "grading" / "grades.csv"
    proc = _nbgrader(root, "export", "--to", str(out))
    if proc.returncode:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        return 1
    print(f"grades -> {out.relative_to(root)}")
    return 0


def status(root: Path) -> int:
    print("assignments:", ", ".join(assignments(root)) or "(none)")
    print("in the gradebook:", ", ".join(sorted(_known_assignments(root))) or "(none: run `make release`)")
    for student, assignment in submissions(root):
        s = _scores(root, assignment, student) if (root / "grading" / "gradebook.db").is_file() else None
        print(f"  {student:<20} {assignment:<28} " + (f"{s[0]:g}/{s[1]:g}" if s else "not graded"))
    return 0


def html(root: Path, only=None, out=None, timeout=1800) -> int:
    """Execute each lecture top to bottom and write a static HTML copy (plots embedded) plus an index."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    out = Path(out) if out else root / "_build" / "html"
    out.mkdir(parents=True, exist_ok=True)
    lectures = sorted((root / "lectures").glob(SLUG_PATTERN + ".ipynb"))
    if only:
        lectures = [p for p in lectures if p.stem in only]
    mode = "fast" if os.environ.get("COURSE_FAST", "").strip() in {"1", "true", "yes", "on"} else "full"
    exporter = HTMLExporter(template_name="lab")
    rows, failed = [], []
    for path in lectures:
        t0 = time.time()
        nb = nbformat.read(str(path), as_version=4)
        try:
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        except Exception as exc:  # keep going: the other lectures still render
            failed.append(path.stem)
            print(f"FAILED  {path.stem}: {type(exc).__name__}: {str(exc)[-500:]}", file=sys.stderr)
        body, _ = exporter.from_notebook_node(nb)
        (out / f"{path.stem}.html").write_text(body)
        seconds = time.time() - t0
        rows.append(f'<li><a href="{path.stem}.html">{path.stem}</a> ({mode} mode, executed in {seconds:.0f} s)</li>')
        print(f"rendered {path.stem} -> {out / (path.stem + '.html')} ({seconds:.0f} s)")
    (out / "index.html").write_text("<!doctype html><meta charset='utf-8'><title>Lectures</title>"
                                    "<h1>Recurrent networks, attention and memory: lectures</h1><ul>"
                                    + "".join(rows) + "</ul>")
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_impl.course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["release", "autograde", "feedback", "grades", "status", "html"])
    parser.add_argument("assignment", nargs="*", help="limit to these assignments (default: all)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="autograde: seconds allowed per submission (default: no limit beyond nbgrader's per-cell timeout)")
    parser.add_argument("--out", default=None, help="html: output folder (default: _build/html)")
    args = parser.parse_args(argv)
    root = course_root()
    only = args.assignment or None
    if args.command == "release":
        return release(root, only)
    if args.command == "autograde":
        return autograde(root, only, args.timeout)
    if args.command == "feedback":
        return feedback(root, only)
    if args.command == "grades":
        return grades(root)
    if args.command == "html":
        return html(root, only, args.out)
    return status(root)


if __name__ == "__main__":
    sys.exit(main())
