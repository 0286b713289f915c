"""Grading throughput: seconds per submission of plain ``nbgrader autograde`` and of ``make grade`` with the
sandbox on and off, in one run.

Usage: ``python -m autograder.benchmark [--students N]`` (what ``make benchmark`` runs). All three grade
the same N submissions (the sample class, repeated) in fresh scratch course folders, one after the other
on this machine. Plain autograde runs nbgrader's own kernel manager, without the sandbox and without the
kit's verdicts; ``make grade`` also computes those verdicts, generates feedback and writes the reports.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

from autograder import sample_class
from autograder.release import ASSIGNMENT, generate_assignment, run_nbgrader


# Plain `nbgrader autograde` stops the whole run at a notebook with a copied cell (duplicate grade id),
# so that sample is left out of the class both sides grade.
STOPS_PLAIN_NBGRADER = {"jupyterlab_accidents"}


def make_class(folder, release, students):
    """``students`` submissions in ``folder``, cycling through the sample class."""
    samples = sample_class.build(Path(folder) / "samples", release)
    names = sorted(path.name for path in samples.iterdir() if path.name not in STOPS_PLAIN_NBGRADER)
    for number, name in enumerate(islice(cycle(names), students)):
        shutil.copytree(samples / name, Path(folder) / "class" / f"s{number:03d}_{name}")
    return Path(folder) / "class"


def plain_autograde(class_dir, course_root):
    """Seconds for ``nbgrader autograde`` of the whole class, after copying it into submitted/."""
    generate_assignment(course_root)
    for student in class_dir.iterdir():
        shutil.copytree(student, course_root / "submitted" / student.name / ASSIGNMENT)
    started = time.perf_counter()
    try:
        run_nbgrader("autograde", ASSIGNMENT, "--create", "--Execute.kernel_manager_class="
                     "jupyter_client.manager.AsyncKernelManager", course_root=course_root, quiet=True)
    except subprocess.CalledProcessError:  # nbgrader exits 1 when some submission failed; it graded the rest
        pass
    return time.perf_counter() - started


def kit_grade(class_dir, course_root, sandbox=True):
    """Seconds for ``python -m autograder.grade`` (what ``make grade`` runs) on the class, with or without the
    sandbox."""
    environment = {**os.environ, "CNNKIT_SANDBOX": "on" if sandbox else "off"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder.grade", str(class_dir), f"--course-root={course_root}"],
                   check=True, stdout=subprocess.DEVNULL, env=environment)
    return time.perf_counter() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=12, help="number of submissions (default 12)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        class_dir = make_class(scratch, generate_assignment(scratch / "release-course"), args.students)
        plain = plain_autograde(class_dir, scratch / "plain")
        kit = kit_grade(class_dir, scratch / "kit")
        unconfined = kit_grade(class_dir, scratch / "kit-unconfined", sandbox=False)
    n = args.students
    print(f"{n} submissions, {os.cpu_count()} cores")
    print(f"  nbgrader autograde:          {plain:7.1f} s  {plain / n:5.2f} s per submission (autograde only)")
    print(f"  make grade, sandbox on:      {kit:7.1f} s  {kit / n:5.2f} s per submission (autograde, verdicts, "
          "feedback, reports)")
    print(f"  make grade, sandbox off:     {unconfined:7.1f} s  {unconfined / n:5.2f} s per submission")
    print(f"  ratio sandbox on / off: {kit / unconfined:.2f}; make grade (sandbox on) / nbgrader autograde: "
          f"{kit / plain:.2f}")


if __name__ == "__main__":
    main()
