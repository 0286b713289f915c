"""Build a sample class of submissions: what ``make demo`` grades and the end-to-end test checks.

Each sample student hands in the released notebooks with the class cells filled in some way: the
reference code, nothing at all, the original blog post's code, the reference with one typical
mistake, the reference printing warnings to stderr, or the reference with JupyterLab's usual
accidents (copied cell, extra cell, outputs left in, cells re-ordered). ``EXPECTED_FAILURES`` lists the graded cells each one must fail.
Two more hand in the reference but break a file: one notebook missing, one not valid JSON
(``EXPECTED_BROKEN``: the broken notebook, which earns nothing, nor does 03 that needs it; and the status).

Usage: ``python -m autograder.sample_class OUTPUT_DIR`` (what ``make demo`` runs before grading).
"""

import argparse
import copy
import json
import re
import shutil
from pathlib import Path

import nbformat

from autograder.release import COURSE_ROOT, SOLUTIONS, generate_assignment, graded_cells
from autograder.verdict import TRAINING_TEST

ORIGINAL_POST = Path(__file__).parent / "samples" / "original_post.py"
REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION[^\n]*\n", re.M | re.S)
CONV, POOL, TRAINING = "01_convolution", "02_max_pooling", "03_training"
CLASS_NAMES = {CONV: "Convolution2dLayer", POOL: "MaxPooling2dLayer"}

# A typical mistake replaces one solution region of the reference: (notebook, region index, new body).
# Region indices: 0 views, 1 forward, 2 backward.
MISTAKES = {
    "flipped_kernel": (CONV, 1, """
cache["out"][:, :, out_row, out_col] = np.sum(view * self.weights[:, ::-1, ::-1], axis=(2, 3))
"""),
    "output_at_input_index": (CONV, 0, """
out_row, out_col = i, j
view = x[:, :, i:i + k, j:j + k]
"""),
    "backward_ignores_stride": (CONV, 2, """
g = grad_output[:, :, out_row, out_col]
window = x[:, :, out_row:out_row + self.filter_size, out_col:out_col + self.filter_size]
grads += np.sum(g[:, :, None, None] * window, axis=0)
"""),
    "gradient_averaged_over_batch": (CONV, 2, """
g = grad_output[:, :, out_row, out_col]
grads += np.mean(g[:, :, None, None] * view, axis=0)
"""),
    "gradient_to_every_tied_max": (POOL, 2, """
is_max = view == view.max(axis=(2, 3), keepdims=True)
grads[:, :, out_row * k:out_row * k + k, out_col * k:out_col * k + k] = is_max * grad_output[:, :, out_row, out_col][:, :, None, None]
"""),
    "average_pooling": (POOL, 1, """
cache["out"][:, :, out_row, out_col] = np.mean(view, axis=(2, 3))
"""),
}
# Correct, but chatty: a numpy RuntimeWarning and a debug line on stderr at every forward (they cost nothing).
NOISY_FORWARD = """
import sys
np.float64(1.0) / np.float64(0.0)  # RuntimeWarning: divide by zero
print("debug: forward", out_row, out_col, file=sys.stderr)
cache["out"][:, :, out_row, out_col] = np.sum(view * self.weights, axis=(2, 3))
"""
# average_pooling also needs a matching backward: every element of the window gets 1 / k^2.
AVERAGE_POOLING_BACKWARD = """
grads[:, :, out_row * k:out_row * k + k, out_col * k:out_col * k + k] = grad_output[:, :, out_row, out_col][:, :, None, None] / k**2
"""

ALL_CONV, ALL_POOL = ({grade_id for grade_id, _ in graded_cells()[notebook]} for notebook in (CONV, POOL))
# 03 trains only when the layers pass the stride-1 checks of forward and backward (its first cell runs them).
EXPECTED_FAILURES = {
    "correct": set(),
    "jupyterlab_accidents": set(),
    "noisy_but_correct": set(),
    "untouched_release": ALL_CONV | ALL_POOL | {TRAINING_TEST},
    "original_post": {"conv_views", "conv_forward_strided", "conv_backward_strided", "conv_batch_of_one",
                      "pool_backward_ties"},
    "flipped_kernel": {"conv_forward_stride1", "conv_forward_strided", "conv_batch_of_one", TRAINING_TEST},
    "output_at_input_index": {"conv_views", "conv_forward_strided", "conv_backward_strided"},
    "backward_ignores_stride": {"conv_backward_strided"},
    "gradient_averaged_over_batch": {"conv_backward_stride1", "conv_backward_strided", "conv_batch_of_one",
                                     TRAINING_TEST},
    "gradient_to_every_tied_max": {"pool_backward_ties"},
    "average_pooling": {"pool_forward", "pool_backward", "pool_backward_ties", TRAINING_TEST},
}


EXPECTED_BROKEN = {
    "missing_notebook": (POOL, "missing notebook"),
    "unreadable_notebook": (CONV, "unreadable notebook"),
}


def solution_cell(notebook):
    (cell,) = [cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("solution")]
    return cell


def filled_in(source, replacements=None):
    """The reference class source with its solution markers removed, and regions replaced as given.

    :param replacements: {region index: new body (unindented)}.
    """
    replacements = replacements or {}
    index = 0

    def fill(match):
        nonlocal index
        indent, body = match.group(1), match.group(2)
        if index in replacements:
            body = "".join(f"{indent}{line}\n" for line in replacements[index].strip("\n").splitlines())
        index += 1
        return body

    return REGION.sub(fill, source)


def original_post_class(name):
    """The source of one class of the original post."""
    source = ORIGINAL_POST.read_text()
    start = source.index(f"class {name}")
    end = source.find("\nclass ", start + 1)
    return source[start:] if end < 0 else source[start:end]


def class_sources(student):
    """{notebook: class cell source} for a sample student, or {} for the untouched release."""
    reference = {nb: solution_cell(nbformat.read(SOLUTIONS / f"{nb}.ipynb", as_version=4)).source for nb in CLASS_NAMES}
    if student == "untouched_release":
        return {}
    if student == "original_post":
        return {nb: original_post_class(name) for nb, name in CLASS_NAMES.items()}
    sources = {nb: filled_in(source) for nb, source in reference.items()}
    if student == "noisy_but_correct":
        sources[CONV] = filled_in(reference[CONV], {1: NOISY_FORWARD})
    if student in MISTAKES:
        notebook, region, body = MISTAKES[student]
        replacements = {region: body}
        if student == "average_pooling":
            replacements[2] = AVERAGE_POOLING_BACKWARD
        sources[notebook] = filled_in(reference[notebook], replacements)
    return sources


def with_jupyterlab_accidents(notebook):
    """A copied cell (duplicate id), an extra cell, outputs left in and two cells swapped."""
    notebook = copy.deepcopy(notebook)
    cell = solution_cell(notebook)
    position = notebook.cells.index(cell)
    notebook.cells.insert(position + 1, copy.deepcopy(cell))  # copy-paste of the class cell, same id
    notebook.cells.insert(position + 2, nbformat.v4.new_code_cell("scratch = 1 + 1  # trying something"))
    notebook.cells[position + 2].outputs = [nbformat.v4.new_output("stream", text="left over\n")]
    notebook.cells[0], notebook.cells[1] = notebook.cells[1], notebook.cells[0]
    return notebook


def fill_in(folder, student):
    """Fill in the class cells of the student notebooks in ``folder``, in place, as the sample ``student`` did."""
    for notebook_name, source in class_sources(student).items():
        path = Path(folder) / f"{notebook_name}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        solution_cell(notebook).source = source
        nbformat.write(notebook, path)


def build(output_dir, release_dir):
    """Write ``output_dir/<student>/<notebook>.ipynb`` for every sample student."""
    output_dir = Path(output_dir)
    shutil.rmtree(output_dir, ignore_errors=True)
    for student in [*EXPECTED_FAILURES, *EXPECTED_BROKEN]:
        sources = class_sources(student)
        (output_dir / student).mkdir(parents=True)
        for path in sorted(Path(release_dir).glob("*.ipynb")):
            notebook = nbformat.read(path, as_version=4)
            if path.stem in sources:
                solution_cell(notebook).source = sources[path.stem]
            if student == "jupyterlab_accidents" and path.stem in CLASS_NAMES:
                notebook = with_jupyterlab_accidents(notebook)
            # Written as plain JSON: nbformat.write would rename the duplicate cell id of the accident.
            text = json.dumps(notebook, indent=1)
            broken_notebook, _ = EXPECTED_BROKEN.get(student, (None, None))
            if path.stem == broken_notebook:
                if student == "missing_notebook":
                    continue
                text = text[:len(text) // 2]  # the laptop crashed mid-save
            (output_dir / student / path.name).write_text(text)
    return output_dir


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="folder to write the sample class into (replaced)")
    args = parser.parse_args(argv)
    build(args.output, generate_assignment(COURSE_ROOT))
    print(f"Sample class of {len(EXPECTED_FAILURES) + len(EXPECTED_BROKEN)} students written to {args.output}")


if __name__ == "__main__":
    main()
