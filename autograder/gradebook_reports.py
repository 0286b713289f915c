"""The class's reports from the gradebook: ``python -m autograder.gradebook_reports`` (what ``make reports`` runs).

Every student the kit has graded, on any path (``make grade``, ``nbgrader autograde``, the formgrader's Autograde
button), has the kit's result kept in the gradebook database (:mod:`autograder.kit_records`); a person's manual
scores are in nbgrader's own tables. This writes grades.csv, tests.csv, review.csv and class_report.png for all of
them, e.g. after a TA autograded a late student in the formgrader, and says which autograder scores in the gradebook
did not come from the kit's verdicts (none should: see :func:`autograder.kit_autograde.scores_not_from_the_kit`).
"""

import argparse
import contextlib
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder import kit_autograde, kit_records, reports
from autograder.release import ASSIGNMENT, COURSE_ROOT, graded_cells
from autograder.student_result import StudentResult


def with_manual_scores(course_root, results):
    """Where a person set a manual score in the gradebook (the formgrader, nbgrader's API), it replaces the kit's
    points in ``results`` (recorded in ``result.manual`` and in a note): the reports count what nbgrader counts."""
    with Gradebook(kit_records.database_url(course_root)) as gradebook:
        for result in results:
            try:
                gradebook.find_submission(ASSIGNMENT, result.student_id)
            except MissingEntry:
                continue
            for index, (notebook, grade_id, points, max_points) in enumerate(result.tests):
                try:
                    manual = gradebook.find_grade(grade_id, notebook, ASSIGNMENT, result.student_id).manual_score
                except MissingEntry:
                    continue
                if manual is not None:
                    result.manual[grade_id] = (manual, points)
                    result.tests[index] = (notebook, grade_id, manual, max_points)
                    result.notes.append(f"manual score {notebook}: {grade_id}: {manual:g} set by a person "
                                        f"(the kit's verdict: {points:g})")
            for notebook in result.scores:
                result.scores[notebook] = sum(points for nb, _, points, _ in result.tests if nb == notebook)
    return results


def kept_results(course_root):
    """The StudentResult of every student the kit's table holds, sorted by id, with the manual scores applied."""
    with contextlib.closing(kit_records.Records(kit_records.database_url(course_root))) as records:
        kept = records.load()
    results = [StudentResult.from_fields(kept[student][1]) for student in sorted(kept)]
    return with_manual_scores(course_root, results)


def report_scores_not_from_the_kit(course_root):
    """Print a warning for every autograder score in the gradebook that is not the kit's verdict; returns them."""
    foreign = kit_autograde.scores_not_from_the_kit(kit_records.database_url(course_root))
    for student, notebook, grade_id, score, points in foreign:
        print(f"Warning: {student}: {notebook}: {grade_id}: autograder score {score:g} is not the kit's verdict "
              f"({'none kept' if points is None else f'{points:g}'}): it was written some other way; grade this "
              "student again (make grade FORCE=1, or Autograde in the formgrader)")
    return foreign


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course-root", type=Path, default=COURSE_ROOT, help="nbgrader course folder")
    parser.add_argument("--reports", type=Path, default=None, help="where the CSVs and figures go")
    args = parser.parse_args(argv)
    results = kept_results(args.course_root)
    reports_dir = args.reports or args.course_root / "reports"
    reports.write_all(results, graded_cells(), reports_dir)
    print(reports.table(results))
    print(f"\n{len(results)} students. Reports in {reports_dir}")
    return 1 if report_scores_not_from_the_kit(args.course_root) else 0


if __name__ == "__main__":
    raise SystemExit(main())
