"""nbgrader configuration of the course (read by every `nbgrader ...` command run in this folder).

Layout:
    solutions/ASSIGNMENT/ASSIGNMENT.ipynb   nbgrader's source: solutions and hidden tests (instructors edit)
    exercises/ASSIGNMENT/ASSIGNMENT.ipynb   nbgrader's release: what students get (`make release`)
    grading/                                everything about students, git-ignored:
        submitted/STUDENT/ASSIGNMENT/       submissions (from `nbgrader collect` or copied in)
        autograded/, feedback/              nbgrader's outputs
        gradebook.db                        the SQLite gradebook
"""
import os

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

ROOT = os.path.dirname(os.path.abspath(__file__))
GRADING = os.path.join(ROOT, "grading")
os.makedirs(GRADING, exist_ok=True)  # SQLite creates the gradebook file, not its folder

c.CourseDirectory.course_id = "rnn_attention_memory"
c.CourseDirectory.root = ROOT
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = os.path.join("grading", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("grading", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("grading", "feedback")
c.CourseDirectory.solution_directory = os.path.join("grading", "release_solution")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(GRADING, "gradebook.db")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]

# Student code runs under these limits (seconds per cell; then the kernel is interrupted and the
# remaining cells still run, so one endless loop costs one task, not the whole notebook).
c.Execute.timeout = int(os.environ.get("COURSE_CELL_TIMEOUT", "120"))
c.Execute.interrupt_on_timeout = True
c.Execute.startup_timeout = 120
# Stop a runaway print from filling the gradebook and the feedback files.
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
