"""Grading on a Dask cluster, the gradebook in PostgreSQL: a scheduler and two workers started here as separate
processes (``dask scheduler``, ``dask worker``) on 127.0.0.1, one worker killed with SIGKILL in the middle of the
run; every student is graded once, with the grades a local run gives (test_grading_pipeline.py asserts the same
expectations on a local run with SQLite). A worker without a sandbox is refused unless limits-only grading is
allowed."""

import csv
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from nbgrader.api import Gradebook, SubmittedAssignment

from autograder import cluster, grade as grading, kit_records, sample_class
from autograder.release import graded_cells
from autograder.sample_class import EXPECTED_BROKEN, EXPECTED_FAILURES, STACKING, TRAINING
from grading_helpers import postgres_server
from reference import REPO

# Four sample students handing in 01 and 02 (03 and 04 are left out: the local run covers them, and a cluster grades
# any notebook alike).
STUDENTS = ["correct", "original_post", "flipped_kernel", "unreadable_notebook"]
LEFT_OUT = (TRAINING, STACKING)


@pytest.fixture(scope="module")
def course(tmp_path_factory, course_copy):
    root = tmp_path_factory.mktemp("cluster")
    samples = sample_class.build(root / "samples", course_copy(root / "course"))
    for student in STUDENTS:
        (root / "class" / student).mkdir(parents=True)
        for path in (samples / student).iterdir():
            if path.stem not in LEFT_OUT:
                (root / "class" / student / path.name).write_bytes(path.read_bytes())
    return root


def kill_one_worker_mid_run(address, course_root, killed):
    """Once the first student has feedback, SIGKILL the worker process that is grading another one."""
    from distributed import Client
    with Client(address, timeout=60) as client:
        pids = client.run(os.getpid)  # {worker address: pid}
        deadline = time.monotonic() + 300
        while not any((course_root / "feedback").glob("*/cnn")) and time.monotonic() < deadline:
            time.sleep(0.2)
        while time.monotonic() < deadline:
            busy = [worker for worker, tasks in client.processing().items() if tasks and worker in pids]
            if busy:
                killed.append(busy[0])
                os.kill(pids[busy[0]], signal.SIGKILL)
                return
            time.sleep(0.05)


@pytest.fixture(scope="module")
def distributed_run(course):
    """The class graded through the cluster, the gradebook in PostgreSQL, one worker killed mid-run."""
    with postgres_server() as url, pytest.MonkeyPatch.context() as patch, cluster.started_cluster(course) as address:
        patch.setenv(kit_records.GRADEBOOK_VARIABLE, url)
        killed = []
        killer = threading.Thread(target=kill_one_worker_mid_run, args=(address, course / "course", killed))
        killer.start()
        results = grading.grade(course / "class", course_root=course / "course", reports_dir=course / "reports",
                                progress=False, scheduler=address)
        killer.join(timeout=60)
        with Gradebook(url) as gradebook:
            submissions = [(s.student.id, [(nb.name, len(nb.grades)) for nb in s.notebooks])
                           for s in gradebook.db.query(SubmittedAssignment)]
            points = {(s.student.id, nb.name, g.name): g.score for s in gradebook.db.query(SubmittedAssignment)
                      for nb in s.notebooks for g in nb.grades}
        records = kit_records.Records(url)
        kept = records.load()
        records.close()
        yield {result.student_id: result for result in results}, submissions, points, kept, killed


def expected_points(student):
    """{(notebook, grade_id): points} as a local run gives them (03 and 04 are not handed in)."""
    broken, lost = EXPECTED_BROKEN.get(student, (None, None))[0], EXPECTED_FAILURES.get(student, set())
    return {(notebook, grade_id): 0.0 if grade_id in lost or notebook in (broken, *LEFT_OUT) else max_points
            for notebook, cells in graded_cells().items() for grade_id, max_points in cells}


def test_a_worker_was_killed_while_it_graded(distributed_run):
    *_, killed = distributed_run
    assert len(killed) == 1, "no worker was grading after the first student had feedback"


@pytest.mark.parametrize("student", STUDENTS)
def test_every_student_gets_the_grades_of_a_local_run(distributed_run, student):
    results, *_ = distributed_run
    result = results[student]
    assert result.status == (EXPECTED_BROKEN[student][1] if student in EXPECTED_BROKEN else "missing notebook"), \
        result.notes
    assert result.sandboxed and result.worker, "graded by a worker of the cluster, in its sandbox"
    assert {(nb, g): points for nb, g, points, _ in result.tests} == expected_points(student)
    assert result.review == []


def test_the_gradebook_holds_one_result_per_student_and_notebook(distributed_run):
    results, submissions, points, kept, _ = distributed_run
    cells = graded_cells()
    assert sorted(student for student, _ in submissions) == sorted(STUDENTS)
    for student, notebooks in submissions:
        assert sorted(notebooks) == sorted((name, len(grade_ids)) for name, grade_ids in cells.items())
        assert {key[1:]: score for key, score in points.items() if key[0] == student} == expected_points(student)
    assert sorted(kept) == sorted(STUDENTS)


def test_the_reports_say_what_the_results_say(course, distributed_run):
    results, *_ = distributed_run
    with open(course / "reports" / "grades.csv") as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file)}
    assert {student: (row["status"], float(row["total"])) for student, row in rows.items()} == \
        {student: (result.status, sum(result.scores.values())) for student, result in results.items()}


def test_a_worker_without_a_sandbox_is_refused_unless_limits_only_grading_is_allowed(course, tmp_path):
    with cluster.started_cluster(tmp_path, workers=1, environment={"CNNKIT_SANDBOX": "off"}) as address:
        with pytest.raises(cluster.NoSandbox, match="no working sandbox"):
            with cluster.workers(1, address):
                pass
        with cluster.workers(1, address, allow_unsandboxed=True) as workers:
            assert len(workers.unsandboxed) == 1 and "dashboard" in workers.description


def test_local_workers_take_the_graders_environment_and_folder_at_every_run(tmp_path, monkeypatch):
    """make grade's local workers are forked from a fork server that lives as long as the grading process: the
    workers of each run still see the environment and working folder of that run, also in the time limits the kit's
    modules read when imported."""
    limit_when_imported = "__import__('autograder.verdict', fromlist=['CALL_TIMEOUT']).CALL_TIMEOUT"
    for number, seconds in enumerate(["7", "9"]):
        monkeypatch.setenv("CNNKIT_CALL_TIMEOUT", seconds)
        folder = tmp_path / f"run-{number}"
        folder.mkdir()
        monkeypatch.chdir(folder)
        with cluster.workers(2) as workers:
            limits = [workers.executor.submit(eval, limit_when_imported) for _ in range(4)]
            folders = [workers.executor.submit(os.getcwd) for _ in range(4)]
            assert {future.result() for future in limits} == {float(seconds)}
            assert {future.result() for future in folders} == {str(folder)}


def test_local_workers_and_their_fork_server_end_when_the_grading_process_is_killed(tmp_path):
    """A grading process killed with SIGKILL (no cleanup runs) leaves no worker and no fork server behind: they would
    hold memory forever, and a worker could race with the next run (it did, before the workers watched the grader)."""
    script = tmp_path / "grader.py"
    script.write_text(textwrap.dedent("""\
        import multiprocessing.forkserver
        import os
        import signal

        from autograder import cluster

        if __name__ == "__main__":
            with cluster.workers(2) as workers:
                busy = [workers.executor.submit(eval, "__import__('time').sleep(1) or __import__('os').getpid()")
                        for _ in range(2)]  # both at once: two workers
                print(*{future.result() for future in busy}, flush=True)
                print(multiprocessing.forkserver._forkserver._forkserver_pid, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
        """))
    printed, errors = tmp_path / "printed.txt", tmp_path / "errors.txt"  # files, not pipes: what the grader leaves
    with open(printed, "w") as output, open(errors, "w") as error_output:  # running would keep a pipe open
        run = subprocess.run([sys.executable, str(script)], cwd=REPO, stdout=output, stderr=error_output, timeout=120)
    assert run.returncode == -signal.SIGKILL, errors.read_text()[-2000:]
    workers, server = [line.split() for line in printed.read_text().splitlines()]
    left = {int(pid) for pid in workers + server}
    assert len(left) == 3  # two workers and the fork server
    deadline = time.monotonic() + 30
    while left and time.monotonic() < deadline:
        left = {pid for pid in left if Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)}
        time.sleep(0.1)
    assert not left, f"still running: {sorted(left)}"


def _state(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"
