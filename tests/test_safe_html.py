"""The pages nbgrader builds from a notebook, with the course's configuration: a submission's active content is
gone (script, event handlers, javascript: links, frames, forms, requests to the server), its text, tables, maths and
images stay, markdown built to be slow is shown as plain text, and the formgrader's views render in a worker process
that is killed past its time limit."""

import copy
import json
import os
import re
import time

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter, NotebookExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbgrader.server_extensions.formgrader import handlers
from traitlets.config.loader import PyFileConfigLoader

from active_content import ACTIVE_HTML, MARKDOWN, SCRIPT, SVG, active_content
from autograder import classic_page, formgrader_csp, formgrader_views, safe_html
from autograder.classic_page import NO_DESCRIPTION, CachedHighlight2HTML, ClassicPageExporter
from autograder.feedback_page import FeedbackExporter
from autograder.release import COURSE_ROOT, SOLUTIONS

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


@pytest.fixture(scope="module")
def course_config():
    return PyFileConfigLoader("nbgrader_config.py", path=str(COURSE_ROOT)).load_config()


@pytest.fixture(scope="module")
def formgrade_config(course_config):
    """The configuration of the formgrader's exporter: the course's, with nbgrader's formgrade template."""
    config = course_config.copy()
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    return config


VIEW = {"assignment_id": "cnn", "notebook_id": "02", "submission_id": "x", "index": 0, "total": 1, "base_url": "",
        "student": "s", "last_name": None, "first_name": None, "notebook_path": "x"}  # what the formgrader passes


def student_notebook():
    """Every place a submission can put HTML: markdown and raw cells, and every kind of output."""
    code = nbformat.v4.new_code_cell("1")
    code.outputs = [nbformat.v4.new_output("display_data", data=data) for data in [
        {"text/html": ACTIVE_HTML}, {"application/javascript": SCRIPT}, {"text/markdown": MARKDOWN},
        {"image/svg+xml": SVG}, {"image/png": PNG, "text/plain": "<a figure>"}]]
    code.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=ACTIVE_HTML))
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(MARKDOWN), code,
        nbformat.v4.new_raw_cell(ACTIVE_HTML, metadata={"raw_mimetype": "text/html"})])


@pytest.mark.parametrize("template", ["classic", "lab"])
def test_a_page_of_every_vector_has_no_active_content_with_the_course_configuration(course_config, template):
    page, _ = HTMLExporter(config=course_config, template_name=template).from_notebook_node(student_notebook())
    assert active_content(page) == []
    assert "<table>" in page and "$x^2$" in page and "<th>a</th>" in page  # the markdown table and the maths
    assert f"data:image/png;base64,{PNG}" in page and "data:image/svg+xml;base64," in page
    assert "A table | and maths" in page and "a javascript link" in page  # the text stays


def test_without_the_course_configuration_the_same_page_is_active():
    """The check above can fail: nbconvert's defaults keep the vectors."""
    page, _ = HTMLExporter(template_name="classic").from_notebook_node(student_notebook())
    assert len(active_content(page)) > 5


def test_the_kits_own_notebooks_render_as_before(course_config):
    """Sanitising keeps what the course's notebooks show: headings, tables, maths (as MathML, every formula), code, no
    plain-text fallback."""
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        plain, _ = HTMLExporter(template_name="classic").from_notebook_node(notebook)
        safe, _ = HTMLExporter(config=course_config, template_name="classic").from_notebook_node(notebook)
        for tag in ["<h1", "<h2", "<table", "<th", "<td", "<li", "<code", "<img", "<strong", "<em"]:
            assert safe.count(tag) == plain.count(tag), (path.name, tag)
        body = safe[safe.index("<body"):]  # (MathJax's configuration in the head quotes its delimiters)
        assert "$" not in body and body.count("<math") >= plain[plain.index("<body"):].count("$") // 4
        assert "shown as plain text" not in safe


@pytest.mark.parametrize("page", ["feedback", "formgrader view"])
def test_the_kits_pages_are_nbconverts_pages_built_without_parsing_them_again(page, course_config, formgrade_config):
    """The kit's exporters leave out HTMLExporter's BeautifulSoup pass (half the time of a page) and add the alt text
    themselves: a page, parsed and written out as nbconvert does, is nbconvert's page, character for character.
    Pages of the course's notebooks and of a submission that puts HTML and images everywhere."""
    if page == "feedback":
        exporter_class, config = FeedbackExporter, course_config
        resources = {"nbgrader": {"notebook": "n", "score": 0.0, "max_score": 1.0, "late_penalty": 0.0},
                     "cnnkit": {"tests": [], "first_fix": None}}
    else:
        exporter_class, config, resources = ClassicPageExporter, formgrade_config, VIEW
    notebooks = [student_notebook(), *(nbformat.read(path, as_version=4) for path in sorted(SOLUTIONS.glob("*.ipynb")))]
    images_without_alt = 0
    for notebook in notebooks:
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("grade"):
                cell.metadata.nbgrader["score"] = 0.0  # as nbgrader's GetGrades gives it
        kits, _ = exporter_class(config=config).from_notebook_node(copy.deepcopy(notebook), copy.deepcopy(resources))
        nbconverts, _ = HTMLExporter.from_notebook_node(exporter_class(config=config), copy.deepcopy(notebook),
                                                         copy.deepcopy(resources))
        assert UUID.sub("id", str(BeautifulSoup(kits, features="html.parser"))) == UUID.sub("id", nbconverts)
        images_without_alt += kits.count(f'alt="{NO_DESCRIPTION}"')
    assert images_without_alt >= 2  # the submission's PNG and SVG outputs


def test_cells_remembered_from_an_earlier_page_are_what_rendering_them_again_gives():
    """Markdown, its sanitised HTML and highlighted code are remembered across pages (most cells of a class are the
    release's): asked again, each is what nbconvert and nh3 give for it afresh."""
    cells = [cell for path in sorted(SOLUTIONS.glob("*.ipynb")) for cell in nbformat.read(path, as_version=4).cells]
    markdown = [cell.source for cell in cells if cell.cell_type == "markdown"]
    code = [cell for cell in cells if cell.cell_type == "code"]
    highlight = CachedHighlight2HTML(pygments_lexer="ipython3")
    for _ in range(2):  # the second time from memory
        assert [safe_html.render_markdown(source) for source in markdown] == [
            safe_html._markdown_html.fresh(source) for source in markdown]
        assert [safe_html.clean_html(safe_html.render_markdown(source)) for source in markdown] == [
            safe_html._clean.fresh(safe_html._markdown_html.fresh(source)) for source in markdown]
        assert [highlight(cell.source, metadata=cell.metadata) for cell in code] == [
            Highlight2HTML(pygments_lexer="ipython3")(cell.source, metadata=cell.metadata) for cell in code]
    assert safe_html._markdown_html.cache_info().hits >= len(markdown) > 50
    assert classic_page._highlighted.cache_info().hits >= len(code) > 50
    remembered = safe_html._markdown_html.cache_info().currsize
    long = "word " * (safe_html.LONGEST_REMEMBERED // 5 + 1)  # a student's: rendered, never kept
    assert safe_html.render_markdown(long) == safe_html._markdown_html.fresh(long)
    assert safe_html._markdown_html.cache_info().currsize == remembered


SLOW = {
    "brackets": "[" * 100_000,
    "link openers": "[a](" * 30_000,
    "image openers": "![" * 30_000,
    "angle brackets": "<" * 30_000,
    "nested quotes": ">" * 5_000 + " deep",
    "nested lists": "\n".join("  " * depth + "- item" for depth in range(500)),
    "long": "word " * 10_000,
}


@pytest.mark.parametrize("name", sorted(SLOW))
def test_markdown_built_to_be_slow_is_shown_as_plain_text_in_short_lines(name):
    markdown = SLOW[name]
    assert safe_html.too_slow_to_render(markdown)
    shown = safe_html.as_plain_text(markdown)
    assert max(len(line) for line in shown.splitlines()[2:]) <= max(safe_html.WRAP, 4)
    assert "".join(shown.splitlines()[3:-1]) == markdown.replace("\n", "")


def test_slow_markdown_is_plain_text_whoever_claims_to_have_written_it(course_config):
    """A locked cell's metadata is in the student's hands too: every markdown cell and output is checked."""
    kit = nbformat.v4.new_markdown_cell("[" * 300, metadata={"nbgrader": {"locked": True, "grade_id": "intro"}})
    student = nbformat.v4.new_markdown_cell("[" * 300)
    code = nbformat.v4.new_code_cell("1", outputs=[nbformat.v4.new_output("display_data",
                                                                         data={"text/markdown": "[" * 300})])
    page, _ = HTMLExporter(config=course_config, template_name="classic").from_notebook_node(
        nbformat.v4.new_notebook(cells=[kit, student, code]))
    assert page.count("shown as plain text") == 3


def test_the_formgraders_own_template_carries_no_active_content_either(formgrade_config):
    """nbgrader's formgrader template (like its feedback template, checked on real feedback pages in
    test_hostile_grading.py) renders markdown cells without nbconvert's clean_html."""
    page, _ = HTMLExporter(config=formgrade_config).from_notebook_node(student_notebook(), resources=dict(VIEW))
    assert active_content(page) == []
    assert "<th>a</th>" in page and "$x^2$" in page


def test_all_the_students_markdown_is_plain_text_when_there_is_too_much_of_it(course_config):
    cells = [nbformat.v4.new_markdown_cell("# heading\n" + "text " * 1_000) for _ in range(30)]
    page, _ = HTMLExporter(config=course_config, template_name="classic").from_notebook_node(
        nbformat.v4.new_notebook(cells=cells))
    assert page.count("shown as plain text") == 30


def test_a_normal_notebook_of_the_student_is_not_defused():
    assert not safe_html.too_slow_to_render(json.dumps({"a": [1, 2]}) + "\n\n| a | b |\n|---|---|\n| [x](#y) | 2 |\n")


def test_the_submission_views_policy_allows_only_the_templates_own_scripts_and_the_formgraders_urls():
    page = ('<script src="/formgrader/static/a.js"></script><script>var id = "x";</script>'
            '<div id="notebook-container"><script>stolen()</script><img onerror="stolen()"></div>')
    policy = formgrader_csp.policy(page, "http://127.0.0.1:1/formgrader/")
    assert formgrader_csp._hash('var id = "x";') in policy
    assert formgrader_csp._hash("stolen()") not in policy
    assert "connect-src http://127.0.0.1:1/formgrader/api/;" in policy and "'unsafe-inline'" not in \
        policy.split("script-src")[1].split(";")[0]
    assert "form-action 'none'" in policy and "frame-src 'none'" in policy and "img-src http" in policy
    assert formgrader_csp.policy("<p>no notebook</p><script>a()</script>").count("sha256") == 2  # the handlers only
    assert formgrader_csp.SUBMISSION_VIEW.match("/user/ta/formgrader/submissions/0a1b/")
    assert not formgrader_csp.SUBMISSION_VIEW.match("/formgrader/api/submission/0a1b")
    assert not formgrader_csp.SUBMISSION_VIEW.match("/formgrader/submissions/components/bootstrap.js")


def test_the_autograded_notebooks_outputs_keep_only_inert_forms():
    """Registered by name, as nbgrader's autograde registers its preprocessors (without enabling them)."""
    exporter = NotebookExporter()
    exporter.register_preprocessor("autograder.safe_html.SafeOutputs")
    text, _ = exporter.from_notebook_node(student_notebook())
    outputs = nbformat.reads(text, as_version=4).cells[1].outputs
    assert [sorted(output.get("data", {})) for output in outputs] == [
        ["text/html"], [], ["text/html"], ["text/html"], ["image/png", "text/plain"], []]
    for output in outputs[:4]:
        assert active_content(output.get("data", {}).get("text/html", "")) == []
    assert outputs[3].data["text/html"].startswith('<img src="data:image/svg+xml;base64,')
    assert "<th>a</th>" in outputs[2].data["text/html"]


def flooded_notebook(path, cells, characters, outputs=1):
    """A notebook whose ``cells`` code cells each hold ``outputs`` outputs of ``characters`` characters of text and
    tags in all (as much as grading keeps per cell is 2 MB): many outputs are slow to render, large ones hungry."""
    flood = []
    for _ in range(cells):
        cell = nbformat.v4.new_code_cell("print('A<b>' * 500_000)")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="A<b>" * (characters // 4 // outputs))
                        for _ in range(outputs)]
        flood.append(cell)
    nbformat.write(nbformat.v4.new_notebook(cells=flood), path)
    return path


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_a_submission_view_rendered_by_the_worker_is_the_page_nbgrader_renders(formgrade_config, tmp_path):
    renderer = formgrader_views.ViewRenderer(formgrade_config)
    try:
        for path in [SOLUTIONS / "02_max_pooling.ipynb", tmp_path / "vectors.ipynb"]:
            if not path.exists():
                nbformat.write(student_notebook(), path)
            expected, _ = HTMLExporter(config=formgrade_config).from_filename(str(path), resources=dict(VIEW))
            page, _ = renderer.from_filename(str(path), dict(VIEW))  # not parsed again (see autograder/classic_page.py)
            page = str(BeautifulSoup(page, features="html.parser"))
            assert UUID.sub("id", page) == UUID.sub("id", expected), path.name  # the ids of outputs are random
    finally:
        renderer.stop()


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


LIMITS = {  # a limit of the renderer, the flood it cannot render whole, what the TA gets
    "time": ({"timeout": 6}, (1, 240_000, 30_000), "it took longer than 6 s to render", "without outputs"),
    "memory": ({"memory": 300 << 20}, (1, 60_000_000),
               "it could not be rendered, or needed more than 300 MiB of memory", "without outputs"),
    "memory, even without outputs": ({"memory": 300 << 20}, (1, 200_000_000),
                                     "it could not be rendered, or needed more than 300 MiB of memory", "plain page"),
}


@pytest.mark.parametrize("limit", list(LIMITS))
def test_a_view_past_its_limit_keeps_the_form_without_outputs_or_says_why_and_its_worker_is_killed(
        formgrade_config, tmp_path, limit):
    """A cell of 30,000 short outputs takes about 18 s to render (six cells of 2 MB took 15 s, and held every TA's
    formgrader that long in the server before this extension; the kit's exporter, which does not parse the page again,
    renders them in 0.5 s); an output of 60 MB needs more than 300 MiB. The view is then built again without the
    outputs, in half the time (3 s: with 2 s it once ran out on a loaded machine); a notebook too big even for that
    gets a plain page (200 MB: the text read and the output parsed from it hold 400 MB)."""
    options, flood, reason, expected = LIMITS[limit]
    renderer = formgrader_views.ViewRenderer(formgrade_config, **options)
    try:
        renderer.start()
        first = renderer._worker.pid
        started = time.monotonic()
        page, _ = renderer.from_filename(str(flooded_notebook(tmp_path / "flood.ipynb", *flood)), dict(VIEW))
        assert time.monotonic() - started < 30, "the view was not bounded"
        if expected == "without outputs":
            assert f"Outputs not shown here: the full view of this submission was not built ({reason})." in page
            assert 'id="notebook-container"' in page and ">500_000<" in page  # the code, highlighted
            assert "A<b>A<b>" not in page and "A&lt;b&gt;A&lt;b&gt;" not in page
        else:
            assert f"was not built: {reason}. Its scores are unchanged." in page
            assert 'href="/lab/tree/x"' in page and 'href="/formgrader/gradebook/cnn/02"' in page
        assert _gone(first), "the worker that rendered it is still running"
        renderer.timeout = 60  # a busy machine
        page, _ = renderer.from_filename(str(SOLUTIONS / "02_max_pooling.ipynb"), dict(VIEW))
        assert "MaxPooling2dLayer" in page and "not built" not in page
    finally:
        renderer.stop()
