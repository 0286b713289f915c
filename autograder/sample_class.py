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
from autograder import mistakes
from autograder.runner.harvest import CLASSES
from autograder.verdict import TRAINING_NEEDS, TRAINING_TEST

ORIGINAL_POST = Path(__file__).parent / "samples" / "original_post.py"
REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION[^\n]*\n", re.M | re.S)
CONV, POOL, TRAINING, STACKING = "01_convolution", "02_max_pooling", "03_training", "04_layers_that_stack"
CLASS_NAMES = {CONV: "Convolution2dLayer", POOL: "MaxPooling2dLayer"}  # the post's classes, one per notebook
LAYERS = {layer: (Path(notebook).stem, name) for layer, (notebook, name) in CLASSES.items()}  # layer -> (notebook, class)
# Each layer's class cell has the grade id "<layer>_layer".

# Typical mistakes from the registry (autograder/mistakes.py), one sample student each; average_pooling makes two.
REGISTERED = {
    "padding_on_output": ["conv2d_forward_padding_on_output"],
    "overlapping_gradients_replaced": ["pool2d_backward_overlap_assigned"],
    "flipped_kernel": ["conv_forward_flipped"],
    "backward_ignores_stride": ["conv_backward_ignoring_stride"],
    "gradient_averaged_over_batch": ["conv_backward_averaged"],
    "gradient_to_every_tied_max": ["pool_backward_every_tied_max"],
    "average_pooling": ["pool_forward_average", "pool_backward_average"],
}
# Views that yield the input index as the output index: the views checks recognise it by what the views yield.
OUTPUT_AT_INPUT_INDEX = """
out_row, out_col = i, j
view = x[:, :, i:i + k, j:j + k]
"""
# The sample students with one typical mistake, and the notebook it is in.
TYPICAL_MISTAKES = {"output_at_input_index": CONV, **{
    student: LAYERS[mistakes.BY_NAME[names[0]].layer][0] for student, names in REGISTERED.items()}}
# Correct, but chatty: a numpy RuntimeWarning and a debug line on stderr at every forward (they cost nothing).
NOISY_FORWARD = """
import sys
np.float64(1.0) / np.float64(0.0)  # RuntimeWarning: divide by zero
print("debug: forward", out_row, out_col, file=sys.stderr)
cache["out"][:, :, out_row, out_col] = np.sum(view * self.weights, axis=(2, 3))
"""
ALL_CONV, ALL_POOL, ALL_STACKING = ({grade_id for grade_id, _ in graded_cells()[notebook]}
                                   for notebook in (CONV, POOL, STACKING))
# 03 trains only when the layers pass the stride-1 checks of forward and backward (its first cell runs them).


def failures_of(mistake_names):
    """The graded tests a class with these registered mistakes fails: theirs, and notebook 03's if one of them is a
    test its training relies on."""
    failed = set().union(*(mistakes.BY_NAME[name].fails for name in mistake_names))
    return failed | ({TRAINING_TEST} if failed & set(TRAINING_NEEDS) else set())


EXPECTED_FAILURES = {
    "correct": set(),
    "jupyterlab_accidents": set(),
    "noisy_but_correct": set(),
    "untouched_release": ALL_CONV | ALL_POOL | {TRAINING_TEST} | ALL_STACKING,
    "original_post": {"conv_views", "conv_forward_strided", "conv_backward_strided", "conv_batch_of_one",
                      "pool_backward_ties"} | ALL_STACKING,  # the post stops at notebook 2's layers
    "output_at_input_index": {"conv_views", "conv_forward_strided", "conv_backward_strided"},
    **{student: failures_of(names) for student, names in REGISTERED.items()},
}


EXPECTED_BROKEN = {
    "missing_notebook": (POOL, "missing notebook"),
    "unreadable_notebook": (CONV, "unreadable notebook"),
}


def solution_cell(notebook, layer=None):
    """The class cell of ``layer`` (its grade id is "<layer>_layer") in a notebook; without ``layer``, the notebook's
    only solution cell."""
    if layer is not None:
        (cell,) = [cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == f"{layer}_layer"]
        return cell
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


def reference_sources():
    """{layer: the reference class cell's source, solution markers included}, for every layer of :data:`LAYERS`."""
    notebooks = {notebook: nbformat.read(SOLUTIONS / f"{notebook}.ipynb", as_version=4) for notebook, _ in LAYERS.values()}
    return {layer: solution_cell(notebooks[notebook], layer).source for layer, (notebook, _) in LAYERS.items()}


def class_sources(student):
    """{layer: class cell source} for a sample student, or {} for the untouched release."""
    reference = reference_sources()
    if student == "untouched_release":
        return {}
    if student == "original_post":
        return {"conv": original_post_class(CLASS_NAMES[CONV]), "pool": original_post_class(CLASS_NAMES[POOL])}
    sources = {layer: filled_in(source) for layer, source in reference.items()}
    if student == "noisy_but_correct":
        sources["conv"] = filled_in(reference["conv"], {mistakes.REGIONS["conv"]["forward"]: NOISY_FORWARD})
    if student == "output_at_input_index":
        sources["conv"] = filled_in(reference["conv"], {mistakes.REGIONS["conv"]["views"]: OUTPUT_AT_INPUT_INDEX})
    if student in REGISTERED:
        sources.update(mistake_sources(REGISTERED[student], reference))
    return sources


def mistake_sources(mistake_names, reference=None):
    """{layer: class cell source} of the reference classes with these registered mistakes' code in them."""
    reference = reference or reference_sources()
    replaced = {}
    for name in mistake_names:
        mistake = mistakes.BY_NAME[name]
        replaced.setdefault(mistake.layer, {}).update(
            {mistakes.REGIONS[mistake.layer][region]: body for region, body in mistake.code.items()})
    return {layer: filled_in(reference[layer], regions) for layer, regions in replaced.items()}


def _fill(notebook, sources, notebook_name):
    """Put the class cell sources of ``sources`` ({layer: source}) that belong to ``notebook_name`` in place."""
    for layer, source in sources.items():
        if LAYERS[layer][0] == notebook_name:
            solution_cell(notebook, layer).source = source


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
    sources = class_sources(student)
    for notebook_name in {LAYERS[layer][0] for layer in sources}:
        path = Path(folder) / f"{notebook_name}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        _fill(notebook, sources, notebook_name)
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
            _fill(notebook, sources, path.stem)
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
