"""nbgrader configuration of the course. This folder is the course root: nbgrader's source/,
release/, submitted/, autograded/, feedback/ folders and gradebook.db live here and are built, not
committed. The reference notebooks themselves live in ../solutions (the single source);
`make release` copies them into source/cnn/ before running nbgrader.
"""

import os

from autograder.feedback_page import BOOTSTRAP_CSS, NBGRADER_TEMPLATES, TEMPLATES as FEEDBACK_TEMPLATES
from autograder.hidden_cases import instructor_file
from autograder.kit_records import configured_url
from autograder.time_limits import seconds

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

COURSE_ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = COURSE_ROOT
c.CourseDirectory.course_id = "cnn-from-scratch"
c.Exchange.root = os.path.join(COURSE_ROOT, "exchange")
# The gradebook: SQLite in the course folder (nbgrader's default), or the database $CNNKIT_GRADEBOOK names, e.g.
# PostgreSQL (make's GRADEBOOK=postgresql://...); the kit's own table sits in the same database
# (autograder/kit_records.py).
if configured_url():
    c.CourseDirectory.db_url = configured_url()

# What a student finds in place of each solution region.
c.ClearSolutions.code_stub = {
    "python": 'raise NotImplementedError("Your code here: replace this line (see the hint above).")',
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# ---- Hidden tests --------------------------------------------------------------------------------
# The hidden blocks of the test cells run more cases from a public seed (autograder/runner/hidden_tests.py); the
# instructor's secret cases (hidden/cases.npz) are only read by the grader, outside the sandbox, when
# it computes the verdicts that become the grades (autograder/verdict.py).

# Feedback must not show the hidden test code: strip it from the test cells...
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.GetGrades",
    "autograder.feedback_page.FeedbackSummary",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# The pages have the kit's summary on top (each test by name and points, the first thing to fix), and wrap long lines
# (autograder/feedback_page.py, autograder/feedback_template/).
c.GenerateFeedback.exporter_class = "autograder.feedback_page.FeedbackExporter"
c.FeedbackExporter.template_name = "cnnkit_feedback"
c.FeedbackExporter.extra_template_basedirs = [str(FEEDBACK_TEMPLATES), str(NBGRADER_TEMPLATES)]
c.FeedbackExporter.extra_template_paths = [str(BOOTSTRAP_CSS), str(NBGRADER_TEMPLATES)]
# ...and tracebacks must not echo it as context: minimal tracebacks (exception type and message only).
# (The kernel's own log is kept to errors, so that grading output stays readable.)
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Minimal",
                             "--IPKernelApp.log_level=ERROR"]

# ---- Execution -----------------------------------------------------------------------------------
# Every kernel runs in the sandbox (bubblewrap where it works, resource limits everywhere; see
# autograder/sandbox.py), is killed after CNNKIT_NOTEBOOK_TIMEOUT seconds, and cannot see this folder.
c.Execute.kernel_manager_class = "autograder.sandboxed_kernel.SandboxedKernelManager"
# The autograder scores are the kit's verdicts, on every path that autogrades (make grade, `nbgrader autograde`, the
# formgrader's Autograde button): StartVerdicts starts computing them from the student's submitted notebooks while
# the notebooks run; SaveVerdicts, in place of nbgrader's SaveAutoGrades, writes them into the gradebook and flags for
# review where nbgrader's in-kernel result differs (autograder/kit_autograde.py). The hidden expected outputs are read
# here, never in a sandbox.
# Execution is nbgrader's Execute, but the cells that only teach (figures, demos) are not run and say so
# (autograder/teaching_cells.py), and a cell that prints without end cannot fill the grader's memory: its output is
# cut after 2 MB (autograder/limited_execute.py). SafeOutputs (autograder/safe_html.py) keeps only inert forms of the
# outputs, for a TA who opens the autograded notebook. KitCheckCellMetadata is nbgrader's CheckCellMetadata with its
# JSON schema prepared once (autograder/cell_metadata.py). The rest of the list is nbgrader's default.
c.Autograde.autograde_preprocessors = [
    "autograder.kit_autograde.StartVerdicts",
    "autograder.teaching_cells.SkipTeaching",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "autograder.kit_autograde.SaveVerdicts",
    "nbgrader.preprocessors.AssignLatePenalties",
    "autograder.safe_html.SafeOutputs",  # the outputs of grading are inert in the autograded notebook
    "autograder.cell_metadata.KitCheckCellMetadata",
]
# nbgrader's steps before that, with the same check of the cells' metadata, its JSON schema prepared once per process
# instead of once per cell (autograder/cell_metadata.py).
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "autograder.cell_metadata.KitCheckCellMetadata",
]
c.KitVerdicts.hidden_cases = str(instructor_file(COURSE_ROOT))

# A warning or anything else printed to stderr by a correct solution must not cost points: nbgrader
# scores a test cell 0 when it has stderr output, so all stderr output is dropped before scoring.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"[\s\S]"
# Per-cell time limit in seconds (CNNKIT_CELL_TIMEOUT overrides it); a cell past it is interrupted
# and scores 0. The kit's verdict gives the student's cells the same limit (autograder/verdict.py).
c.Execute.timeout = int(seconds("CNNKIT_CELL_TIMEOUT"))

# Every page nbgrader builds from a notebook (the formgrader's submission views, the feedback) shows what the
# student handed in without running it, and renders in bounded time (autograder/safe_html.py).
c.HTMLExporter.sanitize_html = True
c.HTMLExporter.filters = {"clean_html": "autograder.safe_html.clean_html"}
c.HTMLExporter.preprocessors = ["autograder.safe_html.SafeMarkdown"]
