"""The mutation suite: every plausible wrong layer of tests/mutations.py fails a visible check, loses points under the
kit's verdict, and (for at least 90% of them) gets a cause that names what is wrong, not only where.

The verdict's calls (visible and hidden cases) run in this process on the mutated class and are judged by
autograder.verdict.judge, as grading judges what the sandbox returns. The table (mutation, checks failed, the cause
named, points lost) is printed at the end of the test run (tests/conftest.py).
"""

import re
import textwrap

import pytest

from autograder import verdict
from autograder.hidden_cases import HIDDEN_CASES
from autograder.runner.harvest import run_call
from cnnkit import checks
from grading_helpers import POINTS
from mutations import MUTATIONS, mutated_class
from reference import REFERENCE_CLASSES

TABLE = "mutation-table.txt"
NAMED_SHARE = 0.9


def visible_failures(mutation):
    """{check: its failure message} of the visible checks of the mutation's notebook that fail."""
    classes = {**REFERENCE_CLASSES, mutation.layer: mutated_class(mutation)}
    failures = {}
    for check in POINTS[mutation.notebook]:
        try:
            getattr(checks, check)(classes[check.split("_")[0]])
        except checks.CheckFailed as failure:
            failures[check] = str(failure)
    return failures


def verdict_points_lost(mutation, hidden):
    """The points the kit's verdict takes away, and the reasons, {grade_id: reason}."""
    classes = {**REFERENCE_CLASSES, mutation.layer: mutated_class(mutation)}
    reasons = {}
    for grade_id, points in POINTS[mutation.notebook].items():
        for call in verdict.calls_of(grade_id, hidden):
            call = {"max_items": 10_000, **call}  # as the calls file gives it (for the views)
            reason = verdict.judge(call, run_call(call, classes))
            if reason:
                reasons[grade_id] = reason
                break
    return sum(POINTS[mutation.notebook][grade_id] for grade_id in reasons), reasons


def cause_of(message):
    """The "Likely cause: ..." sentence of a failure message, or ""."""
    found = re.search(r"Likely cause: (.*)", message)
    return found.group(1) if found else ""


@pytest.fixture(scope="module")
def hidden():
    return verdict.load_hidden(HIDDEN_CASES)


@pytest.fixture(scope="module")
def rows(request):
    """The table's rows, written to the build folder for the end of the run once every mutation is in."""
    found = {}
    yield found
    named = sum(bool(row[2]) for row in found.values())
    lines = [f"Mutation suite: {len(found)} wrong layers; cause named {named}, pinpointed only {len(found) - named}, "
             f"missed 0 (every one fails a visible check and loses points).",
             f"{'mutation':38} {'checks failed':>13} {'points lost':>11}  the cause named (first failing check)"]
    for name, (failed, lost, cause) in found.items():
        lines.append(f"{name:38} {failed:>13} {lost:>11g}  {textwrap.shorten(cause, 110) if cause else '-'}")
    build = request.config.rootpath / "build"
    build.mkdir(exist_ok=True)
    (build / TABLE).write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[mutation.name for mutation in MUTATIONS])
def test_each_mutation_fails_a_visible_check_and_loses_points(mutation, hidden, rows):
    failures = visible_failures(mutation)
    lost, reasons = verdict_points_lost(mutation, hidden)
    cause = cause_of(next(iter(failures.values()), ""))
    rows[mutation.name] = (len(failures), lost, cause)
    assert failures, f"{mutation.name} passes every visible check"
    assert lost > 0, f"{mutation.name} keeps every point"
    first = next(iter(failures))
    if cause and " raised " not in failures[first]:  # the verdict's reason names the cause the visible check named
        assert f"Likely cause: {cause}" in reasons.get(first, ""), (first, reasons)


def test_at_least_nine_in_ten_mutations_get_a_cause_that_names_what_is_wrong(rows):
    assert len(rows) == len(MUTATIONS) >= 25, "run the whole module"
    named = [name for name, (_, _, cause) in rows.items() if cause]
    assert len(named) >= NAMED_SHARE * len(rows), sorted(set(rows) - set(named))
    for mutation in MUTATIONS:
        if mutation.kind:
            assert rows[mutation.name][2], f"{mutation.name} should be diagnosed as {mutation.kind}"
