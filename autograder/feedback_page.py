"""The kit's feedback pages: nbgrader's, with a summary on top that names each test with its points and says the
first thing to fix, and long lines wrapped instead of cut off (``feedback_template/cnnkit_feedback``).

Plugged in by ``nbgrader_config.py``: :class:`FeedbackExporter` is the exporter of nbgrader's GenerateFeedback
converter (so every path that builds feedback builds these pages), and :class:`FeedbackSummary` one of its
preprocessors, after nbgrader's GetGrades.
"""

import html
import re
from pathlib import Path

import jinja2
import nbgrader
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from autograder.classic_page import ClassicPageExporter

TEMPLATES = Path(__file__).with_name("feedback_template")
NBGRADER_TEMPLATES = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
BOOTSTRAP_CSS = NBGRADER_TEMPLATES.parent / "static" / "node_modules" / "bootstrap" / "dist" / "css"  # as nbgrader's
HEADING = re.compile(r"<h[1-6][^>]*>(.*?)</h[1-6]>|^#+ (.*)$", re.S | re.M)
POINTS = re.compile(r"\s*\(\d+(\.\d+)? points?\)\s*$")
TAG = re.compile(r"<[^>]*>")
LONGEST_FIX = 1500  # characters of the first failure's message in the summary


class _CompiledTemplates(jinja2.BytecodeCache):
    """Jinja's compiled templates, kept in memory for every exporter of the process and the children it forks (each
    student's pages are built by a new exporter; compiling the chain of templates took 0.2 s). Jinja compiles a
    template again when its source changed."""

    def __init__(self):
        self._compiled = {}

    def load_bytecode(self, bucket):
        if bucket.key in self._compiled:
            bucket.bytecode_from_string(self._compiled[bucket.key])

    def dump_bytecode(self, bucket):
        self._compiled[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


class FeedbackExporter(ClassicPageExporter):
    """nbgrader's feedback exporter with the kit's template. Its settings go in the config, under this class's name
    (GenerateFeedback sets HTMLExporter's to nbgrader's own): ``template_name``, ``extra_template_basedirs``
    (:data:`TEMPLATES` and :data:`NBGRADER_TEMPLATES`, for the chain of templates) and ``extra_template_paths``
    (:data:`BOOTSTRAP_CSS`, and :data:`NBGRADER_TEMPLATES` again, where the kit's template finds the one it
    extends). Its templates are compiled once per process (:class:`_CompiledTemplates`), and the page is not parsed
    again once built (:class:`autograder.classic_page.ClassicPageExporter`)."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _COMPILED
        return environment


def _title(previous_text, grade_id):
    """A test's name: the last heading above its cell (its points left out), else its grade id."""
    headings = [next(group for group in match.groups() if group) for match in HEADING.finditer(previous_text or "")]
    if not headings:
        return grade_id
    text = html.unescape(TAG.sub("", headings[-1])).replace("¶", "").strip()
    return POINTS.sub("", text) or grade_id


def _failure(cell):
    """The first error of a cell's outputs, as the student saw it (type and message), or None."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            message = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
            return message if len(message) <= LONGEST_FIX else message[:LONGEST_FIX] + " ..."
    return None


class FeedbackSummary(Preprocessor):
    """``resources["cnnkit"]``: the graded tests in order, {grade_id, title, score, points}, and the first thing to
    fix, {grade_id, title, message}: the first test that lost points and printed an error, or None. Enabled by
    default: nbgrader registers a converter's preprocessors without enabling them."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        tests, first_fix, previous = [], None, ""
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                test = {"grade_id": meta["grade_id"], "title": _title(previous, meta["grade_id"]),
                        "score": float(meta.get("score") or 0), "points": float(meta.get("points") or 0)}
                tests.append(test)
                failure = _failure(cell)
                if first_fix is None and test["score"] < test["points"] and failure:
                    first_fix = {"grade_id": test["grade_id"], "title": test["title"], "message": failure}
            if cell.cell_type in ("markdown", "raw"):
                previous = cell.source
        resources["cnnkit"] = {"tests": tests, "first_fix": first_fix}
        return nb, resources
