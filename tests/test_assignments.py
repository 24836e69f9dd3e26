"""The nbgrader pipeline, per assignment (discovered from solutions/):

* regenerating the release from solutions/ reproduces the committed exercises/ exactly;
* the release holds neither solution code nor hidden tests;
* autograding the solution as a submission gives full marks; the untouched release gives zero;
* every deliberately wrong variant in tests/mutants/NN_slug.py loses the points of its task.

One throwaway course per assignment: generate once, autograde all students in one nbgrader call.
"""
import importlib.util
import re

import nbformat
import pytest

from conftest import ROOT, assignment_slugs, cell_scores, grouped, make_course, run_nbgrader, submit

pytestmark = pytest.mark.slow

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def load_mutants(slug):
    path = ROOT / "tests" / "mutants" / f"{slug}.py"
    if not path.is_file():
        return {}
    spec = importlib.util.spec_from_file_location(f"mutants_{slug}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MUTANTS


def grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def between(source, begin, end):
    """Lines strictly between the marker lines ``begin`` and ``end``."""
    out, inside = [], False
    for line in source.splitlines():
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif inside:
            out.append(line)
    return out


def mutate(nb, name, mutant):
    """A copy of ``nb`` with the mutant's replacements applied to its solution cell."""
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    cells = [c for c in nb.cells if grade_id(c) == mutant["cell"]]
    assert len(cells) == 1, f"mutant {name}: no single solution cell with grade_id {mutant['cell']!r}"
    src = cells[0].source
    for old, new in mutant["replace"]:
        assert old in src, (f"mutant {name}: {old!r} is not in cell {mutant['cell']!r} any more; "
                            "update tests/mutants to the edited solution")
        src = src.replace(old, new)
    cells[0].source = src
    return nb


_GRADED = {}


def graded(slug, tmp_path_factory):
    """Generate the release and autograde solution, release and mutants once per assignment."""
    if slug in _GRADED:
        return _GRADED[slug]
    course = make_course(tmp_path_factory.mktemp(slug), [slug])
    run_nbgrader(course, "generate_assignment", slug, "--force")
    source = nbformat.read(str(course / "solutions" / slug / f"{slug}.ipynb"), as_version=4)
    submit(course, "solution", slug, course / "solutions" / slug / f"{slug}.ipynb")
    submit(course, "untouched", slug, course / "exercises" / slug / f"{slug}.ipynb")
    mutants = load_mutants(slug)
    for name, mutant in mutants.items():
        submit(course, f"mutant-{name}", slug, mutate(source, name, mutant))
    run_nbgrader(course, "autograde", slug, "--force", timeout=1800)
    _GRADED[slug] = course, mutants
    return _GRADED[slug]


@pytest.mark.parametrize("slug", grouped(assignment_slugs(), "assignment-"))
def test_release_is_regenerated_exactly(slug, tmp_path_factory):
    course, _ = graded(slug, tmp_path_factory)
    fresh_dir, committed_dir = course / "exercises" / slug, ROOT / "exercises" / slug
    assert committed_dir.is_dir(), f"exercises/{slug}/ is missing: run `make release` and commit it"
    fresh = {p.relative_to(fresh_dir) for p in fresh_dir.rglob("*") if p.is_file()}
    committed = {p.relative_to(committed_dir) for p in committed_dir.rglob("*") if p.is_file()
                 and ".ipynb_checkpoints" not in p.parts}
    assert fresh == committed, f"exercises/{slug}/ holds other files than nbgrader generates: run `make release`"
    for rel in sorted(fresh):
        assert (fresh_dir / rel).read_bytes() == (committed_dir / rel).read_bytes(), (
            f"exercises/{slug}/{rel} differs from what nbgrader generates from solutions/: "
            "never edit exercises/ by hand; run `make release` and commit the result")


@pytest.mark.parametrize("slug", grouped(assignment_slugs(), "assignment-"))
def test_release_hides_solutions_and_hidden_tests(slug):
    source = nbformat.read(str(ROOT / "solutions" / slug / f"{slug}.ipynb"), as_version=4)
    release = nbformat.read(str(ROOT / "exercises" / slug / f"{slug}.ipynb"), as_version=4)
    text = nbformat.writes(release)
    for marker in MARKERS:
        assert marker not in text, f"exercises/{slug}: the release still contains {marker!r}"
    released = {grade_id(c): c.source for c in release.cells if grade_id(c)}
    n_solutions = n_hidden = 0
    for cell in source.cells:
        gid = grade_id(cell)
        secret = (between(cell.source, MARKERS[0], MARKERS[1]) + between(cell.source, MARKERS[2], MARKERS[3]))
        secret = [ln.strip() for ln in secret if len(ln.strip()) >= 8 and not ln.strip().startswith("#")]
        n_solutions += "### BEGIN SOLUTION" in cell.source
        n_hidden += "### BEGIN HIDDEN TESTS" in cell.source
        if not secret:
            continue
        assert gid in released, f"exercises/{slug}: cell {gid!r} is missing from the release"
        shown = {ln.strip() for ln in released[gid].splitlines()}
        leaked = [ln for ln in secret if ln in shown]
        assert not leaked, f"exercises/{slug}: cell {gid!r} leaks solution/hidden lines: {leaked[:3]}"
    assert n_solutions > 0, f"solutions/{slug} has no solution cells"
    assert n_hidden > 0, f"solutions/{slug} has no hidden tests"


@pytest.mark.parametrize("slug", grouped(assignment_slugs(), "assignment-"))
def test_solution_gets_full_marks_and_release_gets_zero(slug, tmp_path_factory):
    course, _ = graded(slug, tmp_path_factory)
    solution = cell_scores(course, slug, "solution")
    untouched = cell_scores(course, slug, "untouched")
    assert solution, f"{slug}: no graded cells"
    lost = {k: v for k, v in solution.items() if v[0] != v[1]}
    assert not lost, f"{slug}: the reference solution loses points in {lost}"
    earned = {k: v for k, v in untouched.items() if v[0] != 0}
    assert not earned, f"{slug}: the untouched release earns points in {earned}"


@pytest.mark.parametrize("slug", grouped(assignment_slugs(), "assignment-"))
def test_wrong_variants_lose_their_points(slug, tmp_path_factory):
    course, mutants = graded(slug, tmp_path_factory)
    assert mutants, f"{slug}: add deliberately wrong variants in tests/mutants/{slug}.py"
    full = sum(v[1] for v in cell_scores(course, slug, "solution").values())
    for name, mutant in mutants.items():
        scores = cell_scores(course, slug, f"mutant-{name}")
        for gid in mutant["loses"]:
            assert gid in scores, f"mutant {name}: no graded cell {gid!r}"
            assert scores[gid][0] == 0, f"mutant {name} still earns {scores[gid]} in {gid!r}"
        assert sum(v[0] for v in scores.values()) < full, f"mutant {name} keeps full marks"


def test_every_task_has_visible_and_hidden_checks():
    """Each autograded test cell has a one-line docstring, a visible assert and hidden tests (or says why not)."""
    for slug in assignment_slugs():
        source = nbformat.read(str(ROOT / "solutions" / slug / f"{slug}.ipynb"), as_version=4)
        for cell in source.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if not meta.get("grade") or cell.cell_type != "code":
                continue
            gid = meta["grade_id"]
            assert re.match(r'^\s*"""[^\n]+"""', cell.source), f"{slug}:{gid}: start with a one-line docstring"
            visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
            assert re.search(r"assert|compare_to_reference", visible), f"{slug}:{gid}: no visible check"
            assert "### BEGIN HIDDEN TESTS" in cell.source, f"{slug}:{gid}: no hidden tests"
            assert meta.get("points", 0) > 0, f"{slug}:{gid}: no points"
