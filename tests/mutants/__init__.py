"""Deliberately wrong solutions, one file per assignment (``NN_slug.py`` with a ``MUTANTS`` dict).

Each mutant edits one solution cell (found by its nbgrader ``grade_id``) with exact text replacements
and names the test cells that must then score zero:

    MUTANTS = {
        "unstable_softmax": {
            "cell": "softmax",                                   # grade_id of the solution cell
            "replace": [("x - np.max(x, axis=axis, keepdims=True)", "x")],
            "loses": ["test_softmax_stable"],                    # grade_ids that must score 0
        },
    }

tests/test_assignments.py autogrades every mutant beside the correct solution: the named cells must
score zero, the total must drop, and every replacement must change the source (so a mutant cannot
silently stop applying when the solution is edited).
"""
