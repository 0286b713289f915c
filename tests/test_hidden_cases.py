"""The hidden cases: reproducible, each test's drawn on its own, plain arrays, different from the visible ones,
passed by the reference, and built so that no input is simply increasing; the student's kernel runs other cases,
from a public seed."""

import numpy as np
import pytest

from autograder import cases, grade, hidden_cases, verdict
from autograder.hidden_cases import DEFAULT_SEED, HIDDEN_CASES
from autograder.runner import hidden_tests
from cnnkit import casefile, checks
from reference import REFERENCE_CLASSES

TESTS = sorted(checks.RUNNERS)


def generate():
    return cases.generate(DEFAULT_SEED)


def test_the_committed_file_is_what_the_generator_makes_from_the_fixed_seed():
    committed, fresh = casefile.read(HIDDEN_CASES), generate()
    differ = sorted(test for test in committed.keys() | fresh.keys()
                    if not cases.same_cases({test: committed.get(test, [])}, {test: fresh.get(test, [])}))
    assert not differ, f"{HIDDEN_CASES} is not what autograder.cases.generate makes from the default seed (tests " \
                       f"differ: {differ}): run `make hidden` and commit the file"


def test_adding_a_case_to_one_test_leaves_every_other_tests_cases_alone(monkeypatch):
    before, drawn = generate(), cases.DRAWN["pool_forward"]
    monkeypatch.setitem(cases.DRAWN, "pool_forward", lambda rng: [*drawn(rng), cases._pool(rng, 2, 2, 6, 6, 2)])
    after = generate()
    assert len(after["pool_forward"]) == len(before["pool_forward"]) + 1
    assert cases.same_cases({test: after[test] for test in TESTS if test != "pool_forward"},
                            {test: before[test] for test in TESTS if test != "pool_forward"})


def stale_file(folder):
    """A hidden cases file without the cases of pool_backward_ties."""
    stale = folder / "cases.npz"
    stale.write_bytes(casefile.to_bytes({test: test_cases for test, test_cases in generate().items()
                                         if test != "pool_backward_ties"}))
    return stale


def test_a_hidden_file_without_cases_for_a_graded_test_names_the_fix(tmp_path):
    stale = stale_file(tmp_path)
    with pytest.raises(hidden_cases.StaleHiddenCases, match=r"no cases for the graded tests \['pool_backward_ties'\]"
                                                            r".*run `make hidden`") as raised:
        hidden_cases.read_checked(stale, TESTS)
    assert isinstance(raised.value, ValueError) and str(stale) in str(raised.value)
    assert "HIDDEN_SEED=" in str(raised.value)
    assert cases.same_cases(hidden_cases.read_checked(HIDDEN_CASES, TESTS), generate())


def test_make_grade_stops_at_a_stale_or_missing_file_before_grading_anyone(tmp_path, capsys):
    (tmp_path / "class" / "someone").mkdir(parents=True)
    for path in (stale_file(tmp_path), tmp_path / "nowhere.npz"):
        status = grade.main([str(tmp_path / "class"), "--course-root", str(tmp_path / "course"), "--hidden", str(path)])
        error = capsys.readouterr().err
        assert status == 2 and error.startswith(f"Not graded: {path}") and "run `make hidden`" in error
    assert not (tmp_path / "course").exists()


def test_there_are_cases_for_every_graded_cell_of_the_layer_notebooks():
    assert set(generate()) == set(checks.RUNNERS) == set(checks.TITLES)
    assert all(len(test_cases) >= 2 for test_cases in generate().values())


@pytest.mark.parametrize("test", TESTS)
def test_the_reference_passes_every_hidden_case(test, capsys):
    hidden_tests.run(test, REFERENCE_CLASSES[test.split("_")[0]])
    assert f"{test}: {len(hidden_tests.load(test))} hidden cases passed" in capsys.readouterr().out


@pytest.mark.parametrize("test", TESTS)
def test_the_reference_passes_every_case_of_the_instructors_seed(test):
    layer = REFERENCE_CLASSES[test.split("_")[0]]
    secret = cases.for_checks(generate())[test]
    for number, case in enumerate(secret, start=1):
        checks.run_case(test, layer, case, f"hidden case {number} of {len(secret)}")


def test_no_input_is_simply_increasing_and_none_repeats_a_visible_case():
    visible = [case["x"] for test in TESTS for case in checks.visible_cases(test)]
    assert len(visible) >= 30
    for test, test_cases in generate().items():
        for case in test_cases:
            flat = case["x"].ravel()
            assert not np.all(np.diff(flat) >= 0), test
            assert not any(v.shape == case["x"].shape and np.array_equal(v, case["x"]) for v in visible), test


def test_tie_cases_really_have_ties_and_the_others_do_not():
    for test in ("pool_backward", "pool_backward_ties"):
        for case in generate()[test]:
            assert cases.has_ties(case["x"], int(case["k"])) == (test == "pool_backward_ties")


def test_the_kernel_runs_cases_of_the_public_seed_never_the_instructors():
    secret = verdict.load_hidden(HIDDEN_CASES)
    kernel = {test: hidden_tests.load(test) for test in TESTS}
    assert cases.KERNEL_SEED != DEFAULT_SEED
    for test in TESTS:
        assert len(kernel[test]) == len(secret[test])
        for in_kernel, hidden in zip(kernel[test], secret[test]):
            assert in_kernel["x"].shape == hidden["x"].shape and not np.array_equal(in_kernel["x"], hidden["x"])
