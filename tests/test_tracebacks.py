"""Brief error displays in a real kernel (cnnkit.tracebacks): a failed check or a stub shows its message first,
then only the student's frames, none of the kit's; under %xmode Minimal only the message. The cell still ends
with an error output and an "error" reply (nbgrader scores it 0, nbval's raises-exception sees it)."""

import re
from pathlib import Path

import nbformat
import pytest
from IPython.core.ultratb import ListTB
from nbclient import NotebookClient

import notebook_cells as cells
from cnnkit import checks
from cnnkit.tracebacks import render

REPO = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")
KIT_FRAMES = ("cnnkit/", "contextlib", "site-packages")
RAISING_LINE = "out = x[:, :, 99]  # the student's line that raises"
OWN_ASSERT = 'assert 1 + 1 == 3, "the student\'s own assert"'


def class_cell(folder, **replacements):
    """The source of 01_convolution's Convolution2dLayer cell in ``folder``, each key replaced once by its value."""
    notebook = cells.read(REPO / folder / "01_convolution.ipynb")
    (source,) = [cell.source for cell in notebook.cells if cells.grade_id(cell) == "conv_layer"]
    for old, new in replacements.items():
        assert source.count(old) == 1, f"{old!r} is no longer in the conv_layer cell of {folder}/"
        source = source.replace(old, new)
    return source


RAISING_CLASS = f"""
class RaisingLayer:
    def __init__(self, filter_size=3, stride=1, n_outchannel=32):
        self.weights = np.zeros((n_outchannel, filter_size, filter_size))

    def forward(self, x):
        {RAISING_LINE}
        return {{"x": x, "out": out}}
"""

CELLS = {
    "setup": f"import sys\nsys.path.insert(0, {str(REPO)!r})\nimport numpy as np\n"
             "from cnnkit import checks, tracebacks\ntracebacks.install()",
    "stub class": class_cell("notebooks"),
    "stub": "checks.conv_forward_stride1(Convolution2dLayer)",
    "flipped class": class_cell("solutions", **{"view * self.weights": "view * self.weights[:, ::-1, ::-1]"}),
    "flipped": "checks.conv_forward_stride1(Convolution2dLayer)",
    "%tb": "%tb",
    "raising class": RAISING_CLASS,
    "raising": "checks.conv_forward_stride1(RaisingLayer)",
    "own assert": OWN_ASSERT,
    "minimal": "%xmode Minimal",
    "raising, minimal": "checks.conv_forward_stride1(RaisingLayer)",
    "stub class again": class_cell("notebooks"),
    "stub, minimal": "checks.conv_forward_stride1(Convolution2dLayer)",
    "context": "%xmode Context",
    "break the display": "tracebacks.render = None",
    "stub, display broken": "checks.conv_forward_stride1(Convolution2dLayer)",
}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """{name: (error output or None, execute_reply status)} of CELLS run in one kernel, in a temporary folder."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS.values()])
    statuses = {}
    NotebookClient(notebook, timeout=60, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path_factory.mktemp("kernel"))}},
                   on_cell_executed=lambda cell_index, execute_reply, **_: statuses.update(
                       {cell_index: execute_reply["content"]["status"]})).execute()
    results = {}
    for index, (name, cell) in enumerate(zip(CELLS, notebook.cells)):
        errors = [output for output in cell.outputs if output.output_type == "error"]
        results[name] = (errors[0] if errors else None, statuses[index])
    return results


def shown(executed, name):
    """The error output of cell ``name``, and the lines of its traceback (ANSI stripped, blank lines dropped)."""
    error, status = executed[name]
    assert error is not None and status == "error", f"cell {name!r} did not end with an error"
    text = ANSI.sub("", "\n".join(error.traceback))
    return error, [line for line in text.splitlines() if line.strip()]


def assert_no_kit_frames(lines):
    assert not [line for line in lines if any(part in line for part in KIT_FRAMES)], "\n".join(lines)


def test_only_the_expected_cells_fail(executed):
    failing = {name for name, (error, status) in executed.items() if status == "error"}
    assert failing == {"stub", "flipped", "raising", "own assert", "raising, minimal", "stub, minimal",
                       "stub, display broken"}


def test_a_stub_shows_its_message_then_the_student_lines(executed):
    error, lines = shown(executed, "stub")
    assert error.ename == "NotImplementedError"
    assert lines[0].startswith("NotImplementedError: Your code here")
    assert "checks.conv_forward_stride1(Convolution2dLayer)" in [line.strip() for line in lines]  # the cell's line
    assert any(line.strip().startswith("raise NotImplementedError(") for line in lines)  # the stub's line
    assert_no_kit_frames(lines)
    assert len(lines) <= 12, "\n".join(lines)


def test_a_failed_check_shows_its_message_first_and_no_kit_frames(executed):
    error, lines = shown(executed, "flipped")
    assert (error.ename, error.evalue.split(":")[0]) == ("CheckFailed", "conv forward")
    assert lines[0].startswith("CheckFailed: conv forward")
    assert lines[1].startswith("Configuration: ")
    assert any(line.startswith("Likely cause: ") for line in lines)
    assert_no_kit_frames(lines)
    assert lines[-1].strip() == "checks.conv_forward_stride1(Convolution2dLayer)"


def test_tb_magic_still_shows_the_full_traceback(executed):
    error, lines = shown(executed, "flipped")
    full, status = executed["%tb"]
    assert status == "ok" and full.ename == error.ename
    assert any("cnnkit/checks.py" in line for line in ANSI.sub("", "\n".join(full.traceback)).splitlines())


def test_an_error_in_the_student_code_shows_the_message_then_the_raising_line(executed):
    _, lines = shown(executed, "raising")
    assert lines[0].startswith("CheckFailed: conv forward: forward(x) raised IndexError")
    assert lines.index("Raised in your code (most recent call last):") > 1
    assert RAISING_LINE in [line.strip() for line in lines]
    assert lines[-1].startswith("IndexError: ")
    assert_no_kit_frames(lines)


def test_the_student_own_assert_is_shown_as_usual(executed):
    error, lines = shown(executed, "own assert")
    assert error.ename == "AssertionError"
    assert any("Traceback (most recent call last)" in line for line in lines)
    assert OWN_ASSERT in "\n".join(lines)


@pytest.mark.parametrize("name", ["raising, minimal", "stub, minimal"])
def test_minimal_mode_shows_only_the_message(executed, name):
    error, lines = shown(executed, name)
    assert lines == f"{error.ename}: {error.evalue}".splitlines()


def test_a_broken_display_falls_back_to_the_usual_traceback(executed):
    """The error output must never be lost: without it, nbgrader would count the cell as passed."""
    error, lines = shown(executed, "stub, display broken")
    assert error.ename == "NotImplementedError"
    assert any("Traceback (most recent call last)" in line for line in lines)


def test_render_keeps_the_frames_of_the_student_files():
    """Outside a notebook, the student's code is a file: this one."""
    class Raising:
        def __init__(self, filter_size=3, stride=1, n_outchannel=32):
            self.weights = None

        def forward(self, x):
            return x[99]

    with pytest.raises(checks.CheckFailed) as failure:
        checks.conv_forward_stride1(Raising)
    lines = render(failure.value, failure.tb, ListTB(theme_name="nocolor")).splitlines()
    assert lines[0].startswith("CheckFailed: conv forward: forward(x) raised IndexError")
    assert "return x[99]" in [line.strip() for line in lines]
    assert_no_kit_frames(lines)
    assert render(failure.value, failure.tb, ListTB(theme_name="nocolor"), minimal=True) == \
        f"CheckFailed: {failure.value}"
