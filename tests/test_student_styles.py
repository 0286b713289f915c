"""Fair verdicts: a correct class earns full marks whatever honest Python surrounds it, and a typical mistake loses
the same points in any style. The styles are in student_styles.py; the class is graded by the same code as
``make grade`` (nbgrader in the sandbox, then the kit's verdicts)."""

import json
from pathlib import Path

import pytest

from autograder import grade as grading
from autograder import sample_class
from autograder.sample_class import (CONV, EXPECTED_FAILURES, LAYERS, POOL, STACKING, TRAINING, TYPICAL_MISTAKES,
                                     class_sources)
from cnnkit import network
from student_styles import STYLES, apply, reference_notebook

LAYER_NOTEBOOKS = [CONV, POOL]
# One student hands in 01 to 04 with the styles that go together (03 trains on its layers; 04 gets those that fit
# its classes, around its first class cell, Conv2dLayer, which FastConv2dLayer extends); each other style is a student of its own, with 01 and 02 only (training costs 15 s a student, and 03 depends
# on the layers alone). Every style also surrounds the typical mistakes of 01 and 02, and notebook 03 loads each
# style on its own.
MISTAKES_01_02 = {mistake: notebook for mistake, notebook in TYPICAL_MISTAKES.items() if notebook in LAYER_NOTEBOOKS}
ALL_AT_ONCE = ["lambda_helper", "module_rng", "helper_in_earlier_cell", "helper_in_later_cell", "base_class_in_other_cell",
               "numpy_alias", "copied_class_cell", "functools_partial", "class_decorator", "conditional_definitions",
               "magics_and_experiments", "global_state_changed_later"]
# Not in 04: magics_and_experiments calls 01's and 02's classes; module_rng binds `rng`, which 04's speed table and
# deeper networks bind too, so grading would run those cells for the student's code (about 15 s, as it must).
STACKING_STYLES = [style for style in ALL_AT_ONCE if style not in ("magics_and_experiments", "module_rng")]
STYLE_NAMES = list(STYLES)


def mistake_styles(mistake):
    """Three styles around a known mistake, a different three for each mistake."""
    start = 3 * list(MISTAKES_01_02).index(mistake)
    return [STYLE_NAMES[(start + offset) % len(STYLE_NAMES)] for offset in range(3)]


def write_student(folder, release, styles, sources=None, notebooks=LAYER_NOTEBOOKS):
    """``folder/<notebook>.ipynb`` for the given notebooks, class cells from ``sources`` (default: the reference)."""
    folder.mkdir(parents=True)
    for name in notebooks:
        if name == TRAINING:
            content = json.loads((release / f"{name}.ipynb").read_text())
        elif name == STACKING:
            content = apply(reference_notebook(release, name), [style for style in styles if style in STACKING_STYLES])
        else:
            content = apply(reference_notebook(release, name, (sources or {}).get(name)), styles)
        (folder / f"{name}.ipynb").write_text(json.dumps(content, indent=1))


@pytest.fixture(scope="module")
def course(tmp_path_factory, course_copy):
    root = tmp_path_factory.mktemp("styles")
    return root, course_copy(root / "course")


@pytest.mark.parametrize("style", STYLE_NAMES)
def test_notebook_03_loads_each_style_and_its_layers_pass_the_checks_training_needs(course, style, capsys):
    root, release = course
    folder = root / "load" / style
    write_student(folder, release, [style])
    conv, pool = network.load_layers(folder)
    assert not hasattr(conv, "load_error") and not hasattr(pool, "load_error"), capsys.readouterr().out
    network.check_layers(conv, pool)


@pytest.fixture(scope="module")
def graded(course, monkeypatch_module):
    """Every style, the styles all at once, and every known mistake in three styles (handing in only its notebook),
    through make grade's code."""
    root, release = course
    monkeypatch_module.setenv("CNNKIT_CELL_TIMEOUT", "20")
    class_dir = root / "class"
    for style in set(STYLE_NAMES) - set(ALL_AT_ONCE):
        write_student(class_dir / style, release, [style])
    write_student(class_dir / "all_at_once", release, ALL_AT_ONCE, notebooks=[CONV, POOL, TRAINING, STACKING])
    for mistake, notebook in MISTAKES_01_02.items():  # only the notebook of the mistake
        sources = {LAYERS[layer][0]: source for layer, source in class_sources(mistake).items()}
        write_student(class_dir / f"{mistake}_in_style", release, mistake_styles(mistake), sources,
                      notebooks=[notebook])
    results = grading.grade(class_dir, course_root=root / "course", reports_dir=root / "reports", progress=False,
                            jobs=2)
    return {result.student_id: result for result in results}, root / "reports"


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def lost(result, notebooks=LAYER_NOTEBOOKS):
    return {grade_id for notebook, grade_id, points, max_points in result.tests
            if notebook in notebooks and points < max_points}


@pytest.mark.parametrize("style", STYLE_NAMES)
def test_each_style_gets_full_marks_and_no_review(graded, style):
    student = "all_at_once" if style in ALL_AT_ONCE else style
    result = graded[0][student]
    assert lost(result) == set(), result.notes
    assert result.review == []
    # 03 was handed in only with all the styles at once; nothing else went wrong
    assert result.status == ("graded" if student == "all_at_once" else "missing notebook"), result.notes


def test_all_styles_at_once_get_full_marks_in_every_notebook(graded):
    result = graded[0]["all_at_once"]
    assert result.status == "graded", result.notes
    assert all(points == max_points for *_, points, max_points in result.tests), result.tests
    assert result.review == []


def test_the_review_report_lists_no_honest_style(graded):
    results, reports = graded
    honest = set(STYLE_NAMES) | {"all_at_once"}
    with open(Path(reports) / "review.csv", newline="") as file:
        flagged = {line.split(",", 1)[0] for line in file.read().splitlines()[1:]}
    assert flagged & honest == set()


@pytest.mark.parametrize("mistake", list(MISTAKES_01_02))
def test_a_mistake_in_any_style_loses_exactly_the_points_of_the_plain_mistake(graded, mistake):
    result, notebook = graded[0][f"{mistake}_in_style"], MISTAKES_01_02[mistake]
    assert lost(result, [notebook]) == EXPECTED_FAILURES[mistake] - {sample_class.TRAINING_TEST}, \
        (mistake_styles(mistake), result.notes)
    assert result.review == []


def test_a_figure_drawn_while_grading_is_in_the_feedback_as_an_image(course, graded):
    root, _ = course
    pages = [page.read_text() for page in (root / "course" / "feedback" / "all_at_once" / "cnn").glob("*.html")]
    assert len(pages) == 4 and any('src="data:image/png;base64,' in page for page in pages)
    assert not any("&lt;Figure size" in page for page in pages)


def test_a_failing_experiment_cell_is_recorded_and_costs_nothing(graded):
    result = graded[0]["all_at_once"]  # with magics_and_experiments
    assert all(points == max_points for *_, points, max_points in result.tests)
    notes = " ".join(result.notes)
    assert "NameError: name 'undefined_name_from_an_old_session' is not defined" in notes
    assert "SystemExit" in notes
