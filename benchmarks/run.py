"""Run the course's benchmarks and rewrite benchmarks/RESULTS.md.

Each ``benchmarks/bench_*.py`` is a script that measures one thing and writes its own markdown
section to ``benchmarks/results/<name>.md`` (a heading, how it was measured, a table). This runner
executes them one after another (or only those named on the command line) and concatenates every
section into RESULTS.md, so a section measured on another day stays until it is measured again.

    python benchmarks/run.py                 # all
    python benchmarks/run.py pipeline        # only bench_pipeline.py
"""
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main(argv):
    wanted = set(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    failed = []
    for script in scripts:
        name = script.stem[len("bench_"):]
        if wanted and name not in wanted:
            continue
        print(f"== {script.name}", flush=True)
        t0 = time.time()
        rc = subprocess.call([sys.executable, str(script)], cwd=ROOT)
        print(f"   {script.name}: exit {rc} after {time.time() - t0:.0f} s", flush=True)
        if rc:
            failed.append(script.name)
    sections = sorted((HERE / "results").glob("*.md"))
    header = ("# Benchmark results\n\nWritten by `make bench` (benchmarks/run.py) from the sections in "
              "benchmarks/results/; each section says when, where and with which command it was measured.\n\n"
              f"Last assembled on {time.strftime('%Y-%m-%d')} ({platform.machine()}, Python "
              f"{platform.python_version()}).\n\n")
    (HERE / "RESULTS.md").write_text(header + "\n".join(s.read_text().strip() + "\n" for s in sections))
    print(f"wrote benchmarks/RESULTS.md ({len(sections)} sections)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
