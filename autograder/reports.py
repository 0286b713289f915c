"""What grading leaves behind: grades.csv, tests.csv, the class report figure and the printed table.

The CSV files are opened in spreadsheets, and some of their text comes from submissions (the kit's reasons quote a
student's error messages): no cell of them can be taken for a formula.
"""

import csv
from pathlib import Path

from autograder.stages import STAGES


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would take a text cell starting so for a formula


def _text_cell(value):
    """A text cell a spreadsheet would run as a formula (CSV injection: a student's error message can start with
    ``=``) gets a leading apostrophe, which shows it as text; numbers are written as they are."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


class _CsvWriter:
    """csv.writer whose text cells are made :func:`_text_cell`."""

    def __init__(self, file):
        self._writer = csv.writer(file)

    def writerow(self, row):
        self._writer.writerow([_text_cell(value) for value in row])


def _points(value):
    """Points as written in the reports: integers without '.0', otherwise two decimals."""
    return int(value) if float(value).is_integer() else round(float(value), 2)


def write_grades(results, graded_cells, path):
    """grades.csv: student_id, status, total, max_total, then <notebook>_score, <notebook>_max per notebook, then
    graded_by (make grade, or nbgrader autograde: its command line or the formgrader; both grade with the kit's
    verdicts)."""
    max_scores = {nb: sum(points for _, points in cells) for nb, cells in graded_cells.items()}
    header = ["student_id", "status", "total", "max_total"]
    for notebook in graded_cells:
        header += [f"{notebook}_score", f"{notebook}_max"]
    header.append("graded_by")
    with open(path, "w", newline="") as file:
        writer = _CsvWriter(file)
        writer.writerow(header)
        for result in results:
            row = [result.student_id, result.status, _points(sum(result.scores.values())),
                   _points(sum(max_scores.values()))]
            for notebook in graded_cells:
                row += [_points(result.scores[notebook]), _points(max_scores[notebook])]
            writer.writerow([*row, result.graded_by])


def write_tests(results, path):
    """tests.csv: one row per student and graded test cell; scored_by says whose points count: "kit" (its verdict)
    or "person" (a manual score set in the formgrader or through nbgrader's API)."""
    with open(path, "w", newline="") as file:
        writer = _CsvWriter(file)
        writer.writerow(["student_id", "notebook", "grade_id", "points", "max_points", "scored_by"])
        for result in results:
            for notebook, grade_id, points, max_points in result.tests:
                writer.writerow([result.student_id, notebook, grade_id, _points(points), _points(max_points),
                                 "person" if grade_id in result.manual else "kit"])


def write_review(results, path):
    """review.csv: one row per test where nbgrader's in-kernel result and the kit's verdict disagree (the kit's
    points count), and one per class whose code uses a library that may compute its outputs (grade_id is then the
    class name, points the notebook's, nbgrader_points empty); these submissions deserve a human look."""
    with open(path, "w", newline="") as file:
        writer = _CsvWriter(file)
        writer.writerow(["student_id", "notebook", "grade_id", "points", "nbgrader_points", "kit_reason"])
        for result in results:
            for notebook, grade_id, points, nbgrader_points, reason in result.review:
                writer.writerow([result.student_id, notebook, grade_id, _points(points),
                                 "" if nbgrader_points is None else _points(nbgrader_points), reason])


def write_seconds(results, path):
    """seconds.csv: one row per student, the seconds spent in each grading stage (see autograder.stages), 0 for a
    student kept unchanged from an earlier run."""
    with open(path, "w", newline="") as file:
        writer = _CsvWriter(file)
        writer.writerow(["student_id", *STAGES])
        for result in results:
            writer.writerow([result.student_id, *(round(result.seconds.get(stage, 0.0), 3) for stage in STAGES)])


def plot_class_report(results, path):
    """One PNG: the distribution of total scores, and each test's pass rate across the class."""
    # Imported here, by the one process that draws the figure: the grading workers import this module too, and
    # matplotlib, pandas and seaborn would cost each of them about a second of CPU. A Figure of its own draws without
    # pyplot's state (nothing to close).
    import pandas as pd
    import seaborn as sns
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    tests = pd.DataFrame([(r.student_id, f"{nb}: {gid}", pts, mx) for r in results for nb, gid, pts, mx in r.tests],
                         columns=["student_id", "test", "points", "max_points"])
    tests["passed"] = tests.points >= tests.max_points
    totals = tests.groupby("student_id").agg(total=("points", "sum"), max_total=("max_points", "sum"))
    pass_rate = tests.groupby("test", sort=False).passed.mean().mul(100).reset_index()
    sns.set_theme(style="whitegrid")
    fig = Figure(figsize=(13, 0.35 * len(pass_rate) + 2.5))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
    sns.histplot(totals.total, bins=min(20, int(totals.max_total.max()) + 1), binrange=(0, totals.max_total.max()),
                 ax=left, color="tab:blue")
    left.yaxis.set_major_locator(MaxNLocator(integer=True))
    left.set(title=f"Total scores of {len(totals)} students", xlabel=f"points (out of {_points(totals.max_total.max())})",
             ylabel="students")
    sns.barplot(pass_rate, x="passed", y="test", ax=right, color="tab:green")
    right.set(title="Pass rate of each test", xlabel="% of students with full points", ylabel="", xlim=(0, 100))
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_all(results, graded_cells, reports_dir):
    """Write grades.csv, tests.csv, review.csv and class_report.png into ``reports_dir``."""
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    write_grades(results, graded_cells, reports_dir / "grades.csv")
    write_tests(results, reports_dir / "tests.csv")
    write_review(results, reports_dir / "review.csv")
    if results:
        plot_class_report(results, reports_dir / "class_report.png")


def table(results):
    """The grade table printed at the end: one row per student, each notebook's score, status and notes."""
    notebooks = list(results[0].scores) if results else []
    rows = [["student", *notebooks, "total", "status"]]
    for result in results:
        rows.append([result.student_id, *(f"{_points(result.scores[nb])}" for nb in notebooks),
                     f"{_points(sum(result.scores.values()))}", result.status])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    for result in results:
        lines += [f"  {result.student_id}: {note}" for note in result.notes]
    return "\n".join(lines)
