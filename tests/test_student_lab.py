"""The hand-out's `make lab` in a real browser (Debian's Chromium driven by Playwright): a student runs notebook 01,
sees the figures and the stubs' short messages, validates with nbgrader's Validate button, finds nothing of the
instructor's side of nbgrader, and saves into the hand-out, never into this repository's notebooks/."""

import hashlib
import json
import os
import re
import time
import urllib.request

import nbformat
import pytest
from playwright.sync_api import expect, sync_playwright

from autograder.handout import build
from grading_helpers import chromium, free_port, jupyter_server
from reference import NOTEBOOKS, REPO

TOKEN = "student-lab-test"
NOTEBOOK = "01_convolution.ipynb"
# What only an instructor may see: nbgrader's menu entries, side panels and commands other than Validate.
INSTRUCTOR_SIDE = re.compile(r"formgrader|create assignment|assignment list|course list|nbgrader", re.IGNORECASE)
LONG = 120_000  # ms: generous waits for a slow machine
RAN = re.compile(r"^\[\d+\]:$")  # the prompt of a code cell that has run
expect.set_options(timeout=LONG)


def digests(folder):
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.glob("*.ipynb"))}


def read_notebook(path):
    return nbformat.read(str(path), as_version=4)


def figure_cells(notebook):
    """Indices of the code cells that draw a figure without the student's code (the stubs' cells may raise)."""
    return [index for index, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and "plots." in cell.source
            and "raises-exception" not in cell.metadata.get("tags", [])]


def check_cells(notebook):
    """Indices of the graded check cells."""
    return [index for index, cell in enumerate(notebook.cells) if cell.metadata.get("nbgrader", {}).get("grade")]


@pytest.fixture(scope="module")
def repo_notebooks():
    """The repository's released notebooks, before anything of this module runs."""
    return digests(NOTEBOOKS)


@pytest.fixture(scope="module")
def handout(tmp_path_factory, repo_notebooks):
    dest = tmp_path_factory.mktemp("student") / "handout"
    build(dest, zip_path=False)
    return dest


@pytest.fixture(scope="module")
def lab(handout, tmp_path_factory):
    """`make lab` of the hand-out, as a student runs it, on the repository's environment and a fresh home.
    Yields (port, path of the server's log)."""
    port = free_port()
    home = tmp_path_factory.mktemp("home")
    log_path = home / "lab.log"
    env = {name: value for name, value in os.environ.items()  # a student's shell: none of the kit's settings
           if not name.startswith(("JUPYTER", "MAKE", "MFLAGS", "IPYTHON", "MPL", "XDG_", "PYTHONPATH", "PYTHONHOME"))}
    env["HOME"] = str(home)
    command = ["make", "--no-print-directory", "-C", str(handout), "lab", f"VENV={REPO / '.venv'}",
               f"LAB_ARGS=--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={TOKEN}"]
    with jupyter_server(command, port, TOKEN, log_path, env=env):
        yield port, log_path


@pytest.fixture(scope="module")
def http_errors():
    """Every answer of the lab to the browser with an HTTP error status."""
    return []


@pytest.fixture(scope="module")
def asked():
    """The address of every request the page made."""
    return []


@pytest.fixture(scope="module")
def browser_page(lab, http_errors, asked, tmp_path_factory):
    """One page of Debian's Chromium, headless, with a fresh profile (Playwright's own browsers are never used)."""
    with sync_playwright() as playwright:
        context = chromium(playwright, tmp_path_factory.mktemp("chromium-profile"),
                           viewport={"width": 1400, "height": 900})
        context.set_default_timeout(LONG)
        page = context.pages[0] if context.pages else context.new_page()
        page.on("response", lambda response: response.status >= 400 and http_errors.append(
            f"{response.status} {response.request.method} {response.url}"))
        page.on("request", lambda request: asked.append(request.url))
        try:
            yield page
        finally:
            context.close()


@pytest.fixture(scope="module")
def ran(lab, browser_page, handout):
    """Notebook 01 opened and run with Run > Run All Cells, as a student does first. Returns the page."""
    port, _ = lab
    page = browser_page
    page.goto(f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={TOKEN}")
    notebook = read_notebook(handout / NOTEBOOK)
    cells = page.locator(".jp-NotebookPanel .jp-Cell")
    expect(cells).to_have_count(len(notebook.cells))
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1)
    code = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    first_code, last_code = code[0], code[-1]
    for _ in range(3):  # while the lab is still starting, the menu may not reach the notebook yet
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            expect(cells.nth(first_code).locator(".jp-InputPrompt")).not_to_have_text("[ ]:", timeout=10_000)
            break
        except AssertionError:
            page.keyboard.press("Escape")
    try:
        expect(cells.nth(last_code).locator(".jp-InputPrompt")).to_have_text(RAN, timeout=LONG)
    finally:  # say which cells did not run, and what they printed
        prompts = [cells.nth(index).locator(".jp-InputPrompt").text_content().strip()
                   for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
        not_run = [prompt for prompt in prompts if not RAN.match(prompt)]
        assert not not_run, (f"cells that did not run: {prompts}\n"
                             + "\n".join(page.locator(".jp-OutputArea-output").all_text_contents())[-3000:])
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1)
    return page


@pytest.fixture(scope="module")
def validation(ran):
    """The text of the dialog that nbgrader's Validate button opens (the button saves the notebook first)."""
    page = ran
    page.locator(".jp-NotebookPanel-toolbar .validate-button").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator(".jp-Dialog-header")).to_have_text("Validation Results", timeout=LONG)
    text = dialog.locator(".jp-Dialog-body").inner_text()
    dialog.locator("button.jp-mod-accept").click()
    expect(dialog).to_have_count(0)
    return text


@pytest.fixture(scope="module")
def saved(validation, ran, handout):
    """A cell of the student's own at the end of notebook 01 (it prints where the kit comes from), run and
    saved with Ctrl+S. Returns that cell's output."""
    page = ran
    page.locator(".jp-NotebookPanel .jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")  # command mode: a new cell below
    page.keyboard.press("Enter")  # edit mode
    page.keyboard.type("import cnnkit; print(cnnkit.__file__)")
    page.keyboard.press("Shift+Enter")  # runs it, and adds an empty cell below
    own_cell = page.locator(".jp-NotebookPanel .jp-CodeCell", has_text="print(cnnkit.__file__)")
    output = own_cell.locator(".jp-OutputArea-output")
    expect(output).to_contain_text("cnnkit")
    page.keyboard.press("Control+s")
    expect(page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty")).to_have_count(0)
    deadline = time.monotonic() + 30
    while "print(cnnkit.__file__)" not in (handout / NOTEBOOK).read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    return output.text_content().strip()


def test_the_figures_render_as_images(ran, handout):
    cells = ran.locator(".jp-NotebookPanel .jp-Cell")
    figures = figure_cells(read_notebook(handout / NOTEBOOK))
    assert figures, "no figure cell found in the notebook"
    images = ran.locator(".jp-OutputArea-output img[src^='data:image/png']")
    assert images.count() >= len(figures)
    for index in figures:
        image = cells.nth(index).locator(".jp-OutputArea-output img[src^='data:image/png']").first
        image.scroll_into_view_if_needed()
        expect(image).to_be_visible()
        assert image.evaluate("img => img.complete && img.naturalWidth > 100 && img.naturalHeight > 50"), index


def test_a_stub_check_shows_the_short_not_implemented_message(ran, handout):
    first_check = check_cells(read_notebook(handout / NOTEBOOK))[0]
    error = ran.locator(".jp-NotebookPanel .jp-Cell").nth(first_check).locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    expect(error).to_have_count(1)
    text = error.text_content()
    assert "NotImplementedError" in text and "Your code here" in text
    assert "cnnkit/" not in text, text  # no frame of the kit, only the student's


def test_nbgrader_shows_only_its_student_side(ran, lab, http_errors):
    page = ran
    menus = page.locator("#jp-MainMenu > .lm-MenuBar-content > .lm-MenuBar-item")
    titles = menus.all_inner_texts()
    assert "Run" in titles and not INSTRUCTOR_SIDE.search(" ".join(titles)), titles
    entries = []
    for index in range(menus.count()):
        menus.nth(index).click()
        entries += page.locator(".lm-Menu .lm-Menu-itemLabel").all_inner_texts()
        page.keyboard.press("Escape")
    assert "Run All Cells" in entries and not INSTRUCTOR_SIDE.search("\n".join(entries)), entries
    tabs = page.locator(".jp-SideBar .lm-TabBar-tab")
    sidebars = [f"{tab.get_attribute('title')} {tab.get_attribute('data-id')} {tab.inner_text()}" for tab in tabs.all()]
    assert any("File Browser" in tab for tab in sidebars) and not INSTRUCTOR_SIDE.search("\n".join(sidebars)), sidebars
    page.locator(".jp-NotebookPanel .jp-Cell").first.click()
    page.keyboard.press("Control+Shift+c")  # the command palette: every command of the lab
    expect(page.locator(".lm-CommandPalette-input")).to_be_focused()
    commands = page.locator(".lm-CommandPalette .lm-CommandPalette-itemLabel").all_text_contents()
    page.keyboard.press("Escape")
    assert "Run All Cells" in commands and not INSTRUCTOR_SIDE.search("\n".join(commands)), commands
    # Validate is nbgrader's only element in the page (the create-assignment panel and cell widgets are not)
    assert page.locator("[class*='nbgrader'], [id*='nbgrader'], [data-id*='nbgrader']").count() == 0
    expect(page.locator(".jp-NotebookPanel-toolbar .validate-button")).to_have_text("Validate")
    # the instructor's plugins stay off: the plugin manager may not turn them on
    port, _ = lab
    request = urllib.request.Request(f"http://127.0.0.1:{port}/lab/api/plugins",
                                     headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        locked = set(json.load(response)["lockRules"])
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:menu",
            "@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:course-list"} <= locked
    assert not http_errors


def test_the_lab_never_checks_for_a_rebuild_of_its_extensions(ran, asked):
    """The hand-out's labconfig turns the check off: each of its requests started Node.js in the server (half a
    second of a core per page load), for extensions that are never built from source here."""
    assert any("/lab/api/" in url for url in asked) and not [url for url in asked if "/lab/api/build" in url]


def test_validate_lists_every_failing_check(validation, handout):
    notebook = read_notebook(handout / NOTEBOOK)
    checks = [notebook.cells[index] for index in check_cells(notebook)]
    assert validation.count("The following cell failed:") == len(checks), validation
    assert "NotImplementedError" in validation and "Your code here" in validation
    for cell in checks:
        assert cell.source.strip().splitlines()[-1] in validation


def test_working_in_the_lab_writes_into_the_handout_only(saved, handout, repo_notebooks):
    assert saved.startswith(str(handout / "cnnkit")), saved  # the kernel uses the hand-out's kit
    notebook = read_notebook(handout / NOTEBOOK)
    assert any("print(cnnkit.__file__)" in cell.source for cell in notebook.cells)
    assert any("image/png" in output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs)
    assert digests(NOTEBOOKS) == repo_notebooks  # byte for byte


def test_the_server_loads_no_instructor_extension_and_warns_about_nothing_of_nbgrader(lab, validation, saved):
    _, log_path = lab
    log = log_path.read_text()
    assert "Loading the validate_assignment nbgrader serverextension" in log
    assert "Validating '" in log
    for absent in ("formgrader", "assignment_list", "course_list", "nbgrader_config.py", "exchange"):
        assert absent not in log.lower(), absent
    warnings = [line for line in log.splitlines() if re.match(r"\[[WEC] |.*\b(WARNING|ERROR|CRITICAL)\b", line)]
    assert not [line for line in warnings if "nbgrader" in line.lower()], warnings
