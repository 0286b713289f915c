"""The kit's verdicts are the autograder scores on every path that autogrades: ``make grade``, ``nbgrader autograde``
in the course folder, and the formgrader's Autograde button. All of them run nbgrader's Autograde with the course's
nbgrader_config.py, which puts two preprocessors of this module in ``c.Autograde.autograde_preprocessors``:

- :class:`StartVerdicts`, first: starts computing the kit's verdicts on the student's whole submission (the notebooks
  in nbgrader's ``submitted/`` folder; see :mod:`autograder.verdict`) in a thread, while nbgrader runs the notebooks.
- :class:`SaveVerdicts`, in place of nbgrader's SaveAutoGrades: writes the kit's points as each graded cell's
  autograder score. nbgrader's in-kernel result is only compared with them: where the two differ, the cell needs a
  manual grade in the formgrader and the test is listed for review. Manual scores and comments are a person's and
  are never written here. After the student's last notebook, the kit's whole result (status, notes, review rows,
  who graded) is kept in the kit's table (:mod:`autograder.kit_records`), which the reports read.

When nbgrader's run of a notebook fails (its kernel died, or a cell could not be stopped), nbgrader drops the
student's whole autograde. Before it does, the kit's Execute (:mod:`autograder.teaching_cells`) calls
:func:`record_failed_run`: the kit's verdicts of every notebook are written, and the result is kept with the status
the failure means, on every path. ``make grade`` takes the :class:`Judgement` its autograde used
(:func:`judgement_used`), and records the verdicts of any notebook nbgrader never got to with
:meth:`Judgement.record_rest`.
"""

import collections
import contextlib
import dataclasses
import functools
import os
import re
import threading
import traceback
import weakref
from pathlib import Path

import nbformat

from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry, SubmittedAssignment
from nbgrader.preprocessors import NbGraderPreprocessor, SaveAutoGrades
from traitlets import Bool, Unicode

from autograder import kit_records, stages, verdict
from autograder.hidden_cases import HIDDEN_CASES
from autograder.release import SOLUTIONS, graded_cells
from autograder.runner import harvest
from autograder.student_result import GRADED_BY, StudentResult
from autograder.submissions import Submission


class KitError(Exception):
    """The kit could not compute its verdicts (a bug of the kit: the student's grade is not written)."""


@functools.lru_cache(maxsize=2)
def _hidden(path, modified, size):
    return verdict.load_hidden(path)


def hidden_cases(path):
    """The instructor's hidden cases of the file at ``path``, read once per process while the file is unchanged."""
    info = os.stat(path)
    return _hidden(str(path), info.st_mtime_ns, info.st_size)


def _disagreement(points, nbgrader_points, reason):
    """What a disagreement between the kit's verdict and nbgrader's in-kernel test points at."""
    if points < nbgrader_points:
        return (f"{reason}. nbgrader's in-kernel test passed: something in the kernel changed what the test saw "
                "(tampering), or the kit ran the student's code differently (a bug of the kit: report it)")
    return ("the kit's verdict passed; nbgrader's in-kernel test failed: the notebook's run in the kernel went wrong "
            "(see the status and notes: a time limit, a crash), or the test cell was changed")


EXCEPTION_LINE = re.compile(r"^\s*((?:\w+\.)*\w*(?:Error|Exception|Exit|Interrupt): .*)$", re.M)


def failed_run(text):
    """(status, note) of an nbgrader run that failed, from its error ('Type: message') or its log ``text``."""
    if "DeadKernelError" in text or "Kernel died" in text or "kernel died" in text:
        return "kernel died", ("nbgrader: the kernel died while running the notebooks (crash, memory, or the notebook "
                               "time limit); no feedback")
    if "CellTimeoutError" in text:  # e.g. a cell that ignores the interrupt, or whose output does not end
        return "timed out", ("nbgrader: a cell ran past the time limit and could not be stopped, or its output did "
                             "not end; no feedback")
    causes = [line.strip() for line in EXCEPTION_LINE.findall(text) if "NbGraderException" not in line]
    cause = causes[-1] if causes else "autograde failed"  # nbgrader's own last words only say to look above
    return "nbgrader failed", f"nbgrader could not autograde: {cause[:200]}; no feedback"


def _timed_out(nb):
    """Whether a cell of the executed notebook ``nb`` was stopped at the time limit."""
    return any(output.get("ename") == "CellTimeoutError" for cell in nb.cells for output in cell.get("outputs", []))


@functools.cache
def _validate_once():
    """nbformat's first validation loads a grammar (lark, for jsonschema's URI format) with thousands of
    ``ast.literal_eval`` calls: done here, in the thread that starts the verdicts, before any of them runs."""
    nbformat.validate(nbformat.v4.new_notebook())


class Judgement:
    """The kit's verdicts on one student's submission, computed in a thread of their own.

    :param submitted: the folder of the student's notebooks (``<notebook>.ipynb``; missing ones score nothing).
    :param hidden: the instructor's cases, see :func:`hidden_cases`.
    """

    def __init__(self, student_id, submitted, hidden):
        self.student_id = student_id
        self.cells = graded_cells()  # {notebook: [(grade_id, max_points)]}
        self.notebooks = {name: Path(submitted) / f"{name}.ipynb" for name in self.cells
                          if (Path(submitted) / f"{name}.ipynb").is_file()}
        self.recorded = set()  # the notebooks whose verdicts are in the gradebook
        self.failed = False  # whether nbgrader's run failed (see saw_failed_run)
        self._kit = StudentResult(student_id)  # written by the thread only
        self._run = StudentResult(student_id)  # what nbgrader's run showed (time limits), written by the caller only
        self._disagreements = {}  # grade_id -> review row
        self._verdicts = {}  # notebook -> {grade_id: TestVerdict}
        self._judged = {notebook: threading.Event() for notebook in self.cells}
        self._error = None
        # Syntax trees are built here, before the thread starts, or under cnnkit.ast_lock's lock: CPython 3.11 fails
        # when two threads build them at once. nbformat's validation builds thousands when it first runs.
        _validate_once()
        classes = {}  # notebook -> the names of the classes the student writes in it
        for file_name, class_name in harvest.CLASSES.values():
            classes.setdefault(Path(file_name).stem, []).append(class_name)
        self._borrowed = {notebook: (", ".join(names), verdict.borrowed_code(self.notebooks[notebook]))
                          for notebook, names in classes.items() if notebook in self.notebooks}
        self._thread = threading.Thread(target=self._judge, args=(hidden,), daemon=True, name=f"verdicts {student_id}")
        self._thread.start()

    def _judge(self, hidden):
        try:
            with stages.timed("verdicts", besides="training"):
                self._judge_notebooks(hidden)
        except BaseException as error:  # re-raised where the verdicts are awaited
            self._error = error
        finally:
            for event in self._judged.values():
                event.set()

    def _judge_notebooks(self, hidden):
        paths, result, judged = list(self.notebooks.values()), self._kit, {}
        for notebook, cells in self.cells.items():
            grade_ids = [grade_id for grade_id, _ in cells]
            if notebook not in self.notebooks:
                found = {g: verdict.TestVerdict(False, f"{notebook}.ipynb not graded") for g in grade_ids}
            else:
                outcome = verdict.judge_notebook(grade_ids, hidden, paths, layer_tests=judged)
                found = outcome.tests
                for description in outcome.timed_out:
                    result.worsen("timed out", f"kit: {description}")
                for description in outcome.crashed:
                    result.worsen("kernel died", f"kit: {description}")
                result.notes += [f"kit: {description} (what needs it fails)" for description in outcome.cell_errors]
            judged.update(found)
            for grade_id, max_points in cells:
                result.tests.append((notebook, grade_id, max_points if found[grade_id].passed else 0.0, max_points))
            result.scores[notebook] = sum(points for nb, _, points, _ in result.tests if nb == notebook)
            self._verdicts[notebook] = found
            self._judged[notebook].set()
        for notebook, (class_name, names) in self._borrowed.items():
            if names:
                result.review.append((notebook, class_name, result.scores[notebook], None,
                                      f"the code of {class_name} uses {', '.join(names)}: a library may compute the "
                                      "outputs (points kept; look at it)"))

    def verdicts(self, notebook):
        """{grade_id: (points, max_points, reason)} of the graded tests of ``notebook``, once judged."""
        self._judged[notebook].wait()
        self._raise_if_failed()
        return {grade_id: (max_points if self._verdicts[notebook][grade_id].passed else 0.0, max_points,
                           self._verdicts[notebook][grade_id].reason) for grade_id, max_points in self.cells[notebook]}

    def _raise_if_failed(self):
        if self._error is not None:
            raise KitError(f"the kit's verdicts failed: {type(self._error).__name__}: {self._error}") from self._error

    def saw_run(self, notebook, nb):
        """Take note of what nbgrader's run of ``notebook`` showed (``nb``: the executed notebook)."""
        if _timed_out(nb):
            self._run.worsen("timed out", f"nbgrader: a cell of {notebook}.ipynb ran past the time limit")

    def saw_failed_run(self, text):
        """Take note that nbgrader's run failed, with its error or log ``text`` (see :func:`failed_run`)."""
        self._run.worsen(*failed_run(text))
        self.failed = True

    def write(self, gradebook, assignment, notebook, grade_id, nbgrader_points=None):
        """Write the kit's points for one graded cell as its autograder score (not a manual score, which only a
        person sets); ``nbgrader_points``, nbgrader's in-kernel result when there is one, is compared with them."""
        points, _, reason = self.verdicts(notebook)[grade_id]
        grade = gradebook.find_grade(grade_id, notebook, assignment, self.student_id)
        disagrees = nbgrader_points is not None and abs(nbgrader_points - points) > 1e-9
        if disagrees:
            self._disagreements[grade_id] = (notebook, grade_id, points, nbgrader_points,
                                             _disagreement(points, nbgrader_points, reason))
        grade.auto_score = points
        grade.needs_manual_grade = disagrees or grade.manual_score is not None  # as nbgrader does on re-grading

    def record_rest(self, db_url, assignment):
        """Write the verdicts of the notebooks nbgrader's run did not get to (it failed, or never started) into the
        gradebook at ``db_url``."""
        with Gradebook(db_url) as gradebook:
            gradebook.update_or_create_student(self.student_id)
            try:
                gradebook.find_submission(assignment, self.student_id)
            except MissingEntry:
                gradebook.add_submission(assignment, self.student_id)
            for notebook, cells in self.cells.items():
                if notebook not in self.recorded:
                    for grade_id, _ in cells:
                        self.write(gradebook, assignment, notebook, grade_id)
            gradebook.db.commit()
        self.recorded.update(self.cells)

    def result(self):
        """The kit's whole result: its verdicts, the statuses of both runs, and the review rows with their notes."""
        self._thread.join()
        self._raise_if_failed()
        result = dataclasses.replace(self._run, notes=list(self._run.notes))
        result.absorb(self._kit)
        order = [grade_id for _, grade_id, _, _ in result.tests]
        result.review += sorted(self._disagreements.values(), key=lambda row: order.index(row[1]))
        for notebook, grade_id, points, auto, reason in result.review:
            result.notes.append(f"review {notebook}: {grade_id}: " + (reason if auto is None else
                                f"nbgrader's in-kernel test gave {auto:g}, the kit's verdict {points:g} (the kit's "
                                "counts)"))
        return result

    def submission(self):
        """What was graded, as autograder.submissions reads it (for its hash, see autograder.kit_records)."""
        return Submission(self.student_id, notebooks=dict(self.notebooks),
                          missing=[name for name in self.cells if name not in self.notebooks])


# The judgement of the student an autograde run is at, per run (nbgrader's Autograde converter object), and the
# latest judgements by submitted folder, for make grade (see judgement_used).
_of_run = weakref.WeakKeyDictionary()
_latest = collections.OrderedDict()
_LATEST_KEPT = 64
_lock = threading.Lock()


def judgement_used(submitted):
    """The :class:`Judgement` the last autograde in this process used for the notebooks in ``submitted``, or None
    if none did (nbgrader's run failed before it ran a notebook)."""
    with _lock:
        return _latest.pop(str(Path(submitted).resolve()), None)


class KitVerdicts(NbGraderPreprocessor):
    """What both preprocessors share: the hidden cases, and the judgement of the student being autograded."""

    hidden_cases = Unicode(str(HIDDEN_CASES), help="The instructor's hidden cases file (read here, never in the "
                                                   "sandbox).").tag(config=True)
    keep_results = Bool(True, help="Keep the kit's result of each student in the kit's table after its last "
                                   "notebook (make grade keeps them itself).").tag(config=True)

    def _judgement(self, resources):
        converter = self.parent
        while converter is not None and not hasattr(converter, "coursedir"):
            converter = converter.parent
        if converter is None:
            raise KitError("the kit's verdicts run inside nbgrader's Autograde only")
        student, assignment = resources["nbgrader"]["student"], resources["nbgrader"]["assignment"]
        submitted = Path(converter.coursedir.format_path(converter.coursedir.submitted_directory, student,
                                                         assignment)).resolve()
        with _lock:
            judgement = _of_run.get(converter)
            if judgement is None or judgement.student_id != student:
                judgement = Judgement(student, submitted, hidden_cases(self.hidden_cases))
                _of_run[converter] = judgement
                _latest[str(submitted)] = judgement
                while len(_latest) > _LATEST_KEPT:
                    _latest.popitem(last=False)
        return judgement

    def keep(self, judgement, db_url):
        """Keep the kit's whole result of ``judgement``'s student in the kit's table (the reports read it)."""
        result = dataclasses.replace(judgement.result(), graded_by=GRADED_BY[1])
        for name in judgement.submission().missing:
            result.not_handed_in(name)
        key = kit_records.grading_key(SOLUTIONS, self.hidden_cases)
        with contextlib.closing(kit_records.Records(db_url)) as records:
            records.save(result.student_id, kit_records.submission_hash(judgement.submission(), key),
                         dataclasses.asdict(result))


def record_failed_run(preprocessor, resources, error):
    """nbgrader's run of a notebook failed with ``error`` and nbgrader is about to drop the student's autograde:
    write the kit's verdicts of every notebook, and keep the result with the status the failure means, as make grade
    does. Called by the kit's Execute preprocessor (``preprocessor``), before it re-raises."""
    verdicts = KitVerdicts(parent=preprocessor.parent)
    judgement = verdicts._judgement(resources)
    judgement.saw_failed_run("".join(traceback.format_exception(error)))  # the chain: what the error came from
    info = resources["nbgrader"]
    judgement.record_rest(info["db_url"], info["assignment"])
    if verdicts.keep_results:
        verdicts.keep(judgement, info["db_url"])


class StartVerdicts(KitVerdicts):
    """First of the autograde preprocessors: the kit's verdicts are computed while nbgrader runs the notebooks."""

    def preprocess(self, nb, resources):
        self._judgement(resources)
        return nb, resources


class SaveVerdicts(KitVerdicts, SaveAutoGrades):
    """nbgrader's SaveAutoGrades, with the kit's verdicts as the autograder scores (see the module's docstring)."""

    def preprocess(self, nb, resources):
        judgement = self._judgement(resources)
        notebook = resources["nbgrader"]["notebook"]
        judgement.verdicts(notebook)  # waits for them; raises when the kit failed, before anything is written
        judgement.saw_run(notebook, nb)
        self._current, self._scored = judgement, set()
        nb, resources = super().preprocess(nb, resources)  # nbgrader's: opens the gradebook, calls _add_score
        with Gradebook(resources["nbgrader"]["db_url"]) as gradebook:  # test cells the student deleted
            for grade_id in judgement.verdicts(notebook).keys() - self._scored:
                judgement.write(gradebook, self.assignment_id, notebook, grade_id)
            gradebook.db.commit()
        judgement.recorded.add(notebook)
        if self.keep_results and notebook == max(judgement.notebooks):
            self.keep(judgement, resources["nbgrader"]["db_url"])
        return nb, resources

    def _add_score(self, cell, resources):
        nbgrader_points, _ = utils.determine_grade(cell, self.log)
        self._scored.add(cell.metadata.nbgrader.grade_id)
        self._current.write(self.gradebook, self.assignment_id, self.notebook_id, cell.metadata.nbgrader.grade_id,
                            nbgrader_points)
        self.gradebook.db.commit()


def scores_not_from_the_kit(db_url):
    """[(student_id, notebook, grade_id, autograder score, the kit's points or None)] of every autograder score in the
    gradebook at ``db_url`` that differs from the kit's verdict kept for that student (:mod:`autograder.kit_records`):
    scores written some other way, e.g. by nbgrader's own SaveAutoGrades under another configuration."""
    with contextlib.closing(kit_records.Records(db_url)) as records:
        kept = {student: {(notebook, grade_id): points for notebook, grade_id, points, _ in fields["tests"]}
                for student, (_, fields) in records.load().items()}
    found = []
    with Gradebook(db_url) as gradebook:
        for submission in gradebook.db.query(SubmittedAssignment):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    points = kept.get(submission.student.id, {}).get((notebook.name, grade.name))
                    if grade.auto_score is not None and (points is None or abs(points - grade.auto_score) > 1e-9):
                        found.append((submission.student.id, notebook.name, grade.name, grade.auto_score, points))
    return sorted(found)
