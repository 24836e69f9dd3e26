"""Helpers shared by the benchmark scripts: machine description, timing, peak memory, markdown."""
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def machine() -> str:
    """One line: CPU count, model name, Python, torch, date."""
    try:
        model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "")
    except OSError:
        model = platform.processor()
    try:
        import torch
        tv = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    except ImportError:
        tv = "no torch"
    return (f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.machine()}, Python "
            f"{platform.python_version()}, {tv}; measured {time.strftime('%Y-%m-%d')}")


def timed_run(cmd, cwd=ROOT, env=None, timeout=None):
    """Run ``cmd``; return (seconds, peak RSS of the process tree in MiB, CompletedProcess).

    The peak is the largest RSS of any descendant that was waited for (getrusage RUSAGE_CHILDREN
    reports the maximum over children), measured in a fresh ``python -c`` wrapper so earlier runs
    in this process do not count.
    """
    wrapper = ("import resource, subprocess, sys, json, time\n"
               "t0 = time.time()\n"
               "p = subprocess.run(json.loads(sys.argv[1]), cwd=sys.argv[2], capture_output=True, text=True)\n"
               "dt = time.time() - t0\n"
               "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
               "print(json.dumps({'rc': p.returncode, 'seconds': dt, 'peak_mib': peak, "
               "'out': p.stdout[-4000:], 'err': p.stderr[-4000:]}))\n")
    import json
    proc = subprocess.run([sys.executable, "-c", wrapper, json.dumps([str(c) for c in cmd]), str(cwd)],
                          capture_output=True, text=True, env=env, timeout=timeout)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return res


def write_section(name: str, text: str) -> Path:
    path = HERE / "results" / f"{name}.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text.strip() + "\n")
    print(text)
    return path


def table(headers, rows) -> str:
    out = "| " + " | ".join(headers) + " |\n|" + "---|" * len(headers) + "\n"
    for r in rows:
        out += "| " + " | ".join(str(x) for x in r) + " |\n"
    return out


__all__ = ["machine", "timed_run", "write_section", "table", "ROOT", "HERE", "resource", "time"]
