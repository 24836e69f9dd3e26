"""The course pipeline: a fresh clone's `make test` (install included) and its parts, and the time and
peak memory of autograding one warm-up submission.

Targets (issue #2): fresh-clone `make test` within 20 minutes on 2 cores; autograding one warm-up
submission under 30 s and under 1 GiB.

    python benchmarks/bench_pipeline.py              # both parts
    python benchmarks/bench_pipeline.py autograde    # only the autograde measurement (a minute)
"""
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, table, write_section  # noqa: E402

SLUG = "00_getting_started"


def run_sampled(cmd, cwd, env=None, timeout=None):
    """Run ``cmd``; return (seconds, peak summed RSS of the whole process tree in MiB, rc, output)."""
    t0 = time.time()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0.0]
    done = threading.Event()

    def sample():
        top = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [top] + top.children(recursive=True)
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                peak[0] = max(peak[0], total / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, _ = proc.communicate(timeout=timeout)
    done.set()
    thread.join()
    return time.time() - t0, peak[0], proc.returncode, out


def bench_autograde():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        (course / "solutions").mkdir(parents=True)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        shutil.copytree(ROOT / "solutions" / SLUG, course / "solutions" / SLUG)
        py = sys.executable
        secs, peak, rc, out = run_sampled([py, "-m", "reference_impl.course", "release", SLUG], course)
        assert rc == 0, out
        rows.append(("`make release` (one assignment)", f"{secs:.1f} s", f"{peak:.0f} MiB"))
        for i, student in enumerate(("first", "second", "third")):
            dest = course / "grading" / "submitted" / student / SLUG
            dest.mkdir(parents=True)
            shutil.copy(ROOT / "solutions" / SLUG / f"{SLUG}.ipynb", dest / f"{SLUG}.ipynb")
            secs, peak, rc, out = run_sampled([py, "-m", "reference_impl.course", "autograde", SLUG], course)
            assert rc == 0, out
            assert "12/12" in out, out
            # autograde re-grades everyone present, so time the newest student's own run from its line
            line = next(ln for ln in out.splitlines() if ln.strip().startswith(student))
            own = float(line.rsplit("(", 1)[1].split(" s)")[0])
            rows.append((f"autograde one warm-up submission (run {i + 1}, {i + 1} in folder)", f"{own:.1f} s",
                         f"{peak:.0f} MiB (whole process tree)"))
    return rows


def bench_fresh_clone():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        t0 = time.time()
        secs, peak, rc, out = run_sampled(["make", "setup"], clone)
        setup_secs = secs
        rows.append(("`make setup` part (new .venv, install)", f"{secs:.0f} s", "ok" if rc == 0 else f"exit {rc}"))
        if rc:
            print(out[-3000:])
            return rows, None
        junit = Path(tmp) / "junit.xml"
        secs, peak, rc, out = run_sampled(["make", "test", f"PYTEST_ARGS=--junitxml={junit} -q"], clone)
        total = time.time() - t0
        rows.append(("`make test` part (pytest)", f"{secs:.0f} s", "passed" if rc == 0 else f"exit {rc}"))
        per_file = defaultdict(float)
        count = defaultdict(int)
        for case in ET.parse(junit).getroot().iter("testcase"):
            f = case.get("classname", "").split(".")[-1] or case.get("file", "")
            per_file[f] += float(case.get("time", 0))
            count[f] += 1
        parts = sorted(per_file.items(), key=lambda kv: -kv[1])
        for f, t in parts:
            rows.append((f"  tests/{f}.py ({count[f]} tests)", f"{t:.0f} s", ""))
        summary = (out.strip().splitlines() or [""])[-1]
        rows.insert(0, ("**fresh clone `make test`, install included**", f"**{total:.0f} s** "
                        f"({total / 60:.1f} min)", summary))
        return rows, setup_secs


def main(argv):
    parts = set(argv) or {"autograde", "fresh_clone"}
    if "fresh_clone" in parts:
        rows, _ = bench_fresh_clone()
        write_section("00_pipeline_make_test", (
            "## Fresh-clone `make test` (issue #2)\n\n" + f"Machine: {machine()}.\n\n"
            "A fresh clone of this repository's HEAD, `make setup` then `make test` (pip's download cache as "
            "it was on the machine). Target: under 20 minutes on 2 cores.\n\n"
            + table(["what", "time", "result"], rows)
            + "\nCommand: `python benchmarks/bench_pipeline.py fresh_clone`\n"))
    if "autograde" in parts:
        rows = bench_autograde()
        write_section("00_pipeline_autograde", (
            "## Autograding one warm-up submission (issue #2)\n\n" + f"Machine: {machine()}.\n\n"
            "The reference solution of the warm-up graded as a submission in a throwaway course "
            "(`python -m reference_impl.course autograde`, which `make autograde` runs). Peak memory is the "
            "summed RSS of nbgrader and its kernel, sampled every 50 ms. Target: under 30 s and 1 GiB.\n\n"
            + table(["what", "time", "peak memory"], rows)
            + "\nCommand: `python benchmarks/bench_pipeline.py autograde`\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
