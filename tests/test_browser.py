"""The course in a real browser: JupyterLab from the course's environment, driven by Playwright in
Debian's Chromium (/usr/bin/chromium; no browser is downloaded).

* every lecture (found from the file system) runs top to bottom in fast mode with no error output,
  every widget renders, and moving each control (slider, dropdown, text box) changes its output;
* a student fills the warm-up exercise, presses nbgrader's Validate and sees success; with a wrong
  answer Validate reports the failing test;
* an instructor opens the formgrader and sees the course's assignments.

Screenshots of every step go to artifacts/browser/ (git-ignored). Skipped, with the reason shown,
where Chromium or Playwright is missing; `make test` installs Chromium where it can.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, assignment_slugs, lecture_slugs

CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "browser"
TOKEN = "course-browser-test"
WARMUP = "00_getting_started"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - playwright is in the test extra
    sync_playwright = None

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install playwright)"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"no Chromium at {CHROMIUM}: apt-get install chromium (make test does this as root)"),
]
TIMINGS = {}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """JupyterLab on loopback, serving a throwaway copy of the course (so saving changes nothing here)."""
    tmp = tmp_path_factory.mktemp("browser")
    course = tmp / "course"
    for name in ("lectures", "exercises", "solutions"):
        shutil.copytree(ROOT / name, course / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy(ROOT / "nbgrader_config.py", course)
    settings = tmp / "lab-settings"
    for plugin, values in {"apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
                           # render every cell, so that the tests can reach cells below the fold
                           "notebook-extension/tracker": {"windowingMode": "none"}}.items():
        path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(os.environ, COURSE_FAST="1", MPLBACKEND="module://matplotlib_inline.backend_inline",
               JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"), COURSE_DATA_DIR=str(tmp / "data-cache"))
    port = _free_port()
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={course}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp / "lab.log", "w")
    proc = subprocess.Popen(cmd, cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=5)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail("JupyterLab did not start:\n" + (tmp / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield base, course
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    shutil.copy(tmp / "lab.log", ARTIFACTS / "jupyterlab.log")
    # merge with what other workers or server instances recorded
    path = ARTIFACTS / "timings.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    path.write_text(json.dumps({**old, **TIMINGS}, indent=1))


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
            "--disable-background-networking", "--disable-component-update"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


# The notebook panel in front (JupyterLab keeps other documents open in hidden panels).
NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"
_WORKSPACES = iter(range(1_000_000))


def open_notebook(page, base, rel):
    # a fresh, reset workspace per test, so that no notebook from an earlier test is restored beside it
    page.goto(f"{base}/lab/workspaces/test{next(_WORKSPACES)}/tree/{rel}?reset&token={TOKEN}")
    page.wait_for_selector(f"{NB} .jp-Notebook", timeout=120_000)
    page.wait_for_selector(".jp-Spinner", state="detached", timeout=120_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)


def run_all(page, timeout):
    page.click(f"{NB} .jp-Notebook .jp-Cell >> nth=0")
    page.keyboard.press("Escape")
    page.click("li.lm-MenuBar-item:has-text('Run')")
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    deadline = time.time() + timeout
    while True:
        prompts = page.eval_on_selector_all(f"{NB} .jp-CodeCell .jp-InputPrompt", "els => els.map(e => e.textContent.trim())")
        if prompts and all(p[1:-2].strip().isdigit() for p in prompts):
            return prompts
        if time.time() > deadline:
            raise AssertionError(f"cells still running or not run after {timeout} s: {prompts}")
        time.sleep(0.5)


def save(page, path: Path):
    """Ctrl+S, then wait until the server has written ``path``."""
    before = path.stat().st_mtime_ns
    page.keyboard.press("Escape")
    # the toolbar's save button: a keyboard shortcut would go to a widget's text box if one has focus
    page.click(f"{NB} .jp-NotebookPanel-toolbar [data-command='docmanager:save']")
    deadline = time.time() + 30
    while path.stat().st_mtime_ns == before:
        assert time.time() < deadline, f"saving {path.name} from the browser did not reach the disk in 30 s"
        time.sleep(0.2)
    time.sleep(0.5)  # let the write finish


# Everything in a cell's output except the controls themselves (whose own readout changes anyway).
OUTPUT_WITHOUT_CONTROLS = """cell => {
  const out = cell.querySelector('.jp-Cell-outputArea');
  if (!out) return '';
  const copy = out.cloneNode(true);
  copy.querySelectorAll('.widget-slider, .widget-dropdown, .widget-text, .widget-readout, .widget-toggle-buttons, .widget-label, .widget-button')
      .forEach(e => e.remove());
  return copy.innerHTML;
}"""


def _interact(page, control, kind):
    if kind == "slider":
        control.locator(".noUi-handle").first.focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
    elif kind == "dropdown":
        select = control.locator("select").first
        current = select.input_value()
        values = select.evaluate("s => Array.from(s.options).map(o => o.value)")
        assert len(values) > 1, "a dropdown with a single option cannot change anything"
        select.select_option(next(v for v in values if v != current))
    elif kind == "text":
        box = control.locator("input, textarea").first
        box.fill(box.input_value() + "1")
        box.press("Enter")


CONTROLS = {"slider": ".widget-slider", "dropdown": ".widget-dropdown", "text": ".widget-text"}


@pytest.mark.parametrize("slug", lecture_slugs())
def test_lecture_runs_and_widgets_react(slug, server, page):
    base, course = server
    t0 = time.time()
    open_notebook(page, base, f"lectures/{slug}.ipynb")
    run_all(page, timeout=900)
    page.screenshot(path=str(ARTIFACTS / f"{slug}-1-ran.png"), full_page=True)
    dom_errors = page.locator(f"{NB} .jp-OutputArea-output:has-text('Error displaying widget')").count()
    assert dom_errors == 0, f"{slug}: {dom_errors} widget(s) failed to render"
    reacted = 0
    cells = page.locator(f"{NB} .jp-Notebook .jp-CodeCell")
    for i in range(cells.count()):
        cell = cells.nth(i)
        for kind, selector in CONTROLS.items():
            controls = cell.locator(f".jp-Cell-outputArea {selector}")
            for j in range(controls.count()):
                handle = cell.element_handle()
                before = handle.evaluate(OUTPUT_WITHOUT_CONTROLS)
                _interact(page, controls.nth(j), kind)
                deadline = time.time() + 60
                while handle.evaluate(OUTPUT_WITHOUT_CONTROLS) == before:
                    assert time.time() < deadline, (f"{slug}: cell {i}: moving the {kind} #{j} did not change "
                                                    "the output in 60 s")
                    time.sleep(0.3)
                reacted += 1
                cell.screenshot(path=str(ARTIFACTS / f"{slug}-2-widget-cell{i}-{kind}{j}.png"))
    save(page, course / "lectures" / f"{slug}.ipynb")
    saved = nbformat.read(str(course / "lectures" / f"{slug}.ipynb"), as_version=4)
    errors = [(i, o.ename, o.evalue) for i, c in enumerate(saved.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{slug}: cells show errors in the browser: {errors}"
    widget_views = sum(1 for c in saved.cells if c.cell_type == "code" for o in c.outputs
                       if "application/vnd.jupyter.widget-view+json" in o.get("data", {}))
    assert widget_views == 0 or reacted > 0, f"{slug}: {widget_views} widget outputs but no control reacted"
    TIMINGS[f"lecture {slug}"] = round(time.time() - t0, 1)


def _solution_cells(slug):
    source = nbformat.read(str(ROOT / "solutions" / slug / f"{slug}.ipynb"), as_version=4)
    out = {}
    for i, c in enumerate(source.cells):
        if c.get("metadata", {}).get("nbgrader", {}).get("solution") and c.cell_type == "code":
            out[i] = "\n".join(ln for ln in c.source.splitlines() if "### BEGIN SOLUTION" not in ln
                               and "### END SOLUTION" not in ln)
    return out


def _type_into_cell(page, index, text):
    editor = page.locator(f"{NB} .jp-Notebook .jp-Cell").nth(index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)  # pasted as a whole, as a student would: no auto-indent
    page.keyboard.press("Escape")


def _validate(page, timeout=300):
    page.click(f"{NB} .jp-NotebookPanel-toolbar >> text=Validate")
    page.wait_for_selector(".jp-Dialog", timeout=60_000)
    deadline = time.time() + timeout
    while "Validating" in page.inner_text(".jp-Dialog") and time.time() < deadline:
        time.sleep(0.5)
    text = page.inner_text(".jp-Dialog")
    return text


@pytest.mark.skipif(WARMUP not in assignment_slugs(), reason="the warm-up assignment is missing")
def test_student_validates_the_warmup(server, page):
    base, course = server
    t0 = time.time()
    rel = f"exercises/{WARMUP}/{WARMUP}.ipynb"
    open_notebook(page, base, rel)
    solutions = _solution_cells(WARMUP)
    for index, text in solutions.items():
        _type_into_cell(page, index, text)
    save(page, course / rel)
    page.screenshot(path=str(ARTIFACTS / "validate-1-filled.png"))
    result = _validate(page)
    page.screenshot(path=str(ARTIFACTS / "validate-2-success.png"))
    assert "Success! Your notebook passes all the tests." in result, result
    page.click(".jp-Dialog .jp-mod-accept")

    first = min(solutions)
    wrong = solutions[first].replace("x - np.max(x, axis=axis, keepdims=True)", "x")
    assert wrong != solutions[first], "the warm-up's softmax solution changed; update this test's wrong variant"
    _type_into_cell(page, first, wrong)
    save(page, course / rel)
    result = _validate(page)
    page.screenshot(path=str(ARTIFACTS / "validate-3-failure.png"))
    assert "Success!" not in result and "failed" in result.lower(), result
    assert "softmax" in result, f"the failure message should show the failing softmax test: {result[:1000]}"
    TIMINGS["student validate"] = round(time.time() - t0, 1)


def test_instructor_sees_assignments_in_formgrader(server, page):
    base, _ = server
    t0 = time.time()
    page.goto(f"{base}/formgrader?token={TOKEN}")
    page.wait_for_selector("table", timeout=60_000)
    for slug in assignment_slugs():
        page.wait_for_selector(f"text={slug}", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "formgrader.png"), full_page=True)
    TIMINGS["formgrader"] = round(time.time() - t0, 1)
