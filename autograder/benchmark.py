"""Grading throughput, measured side by side in one run: plain ``nbgrader autograde``, ``make grade`` with one
worker, with one per core, and with one Dask worker per core through a scheduler (started here, on 127.0.0.1), a
re-run after one late submission, and where a student's time goes; then notebook 04's speed table
(:mod:`autograder.layer_speed`).

Usage: ``python -m autograder.benchmark [--students N] [--baseline FOLDER]`` (what ``make benchmark`` runs). Every
run grades the same N submissions (the sample class, repeated) in a fresh scratch course folder, one after the
other on this machine. Plain autograde is nbgrader as it comes (its own preprocessors and kernel manager: every
cell runs, no sandbox, no verdicts, one student at a time); ``make grade`` keeps the sandbox, computes the kit's
verdicts, generates feedback and writes the reports. ``--baseline`` also times ``make grade`` of another checkout of
the kit (with its own ``.venv``), e.g. an older commit, on a class built by its own sample class.
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

from autograder import cluster, layer_speed, sample_class, stages
from autograder.release import ASSIGNMENT, generate_assignment, run_nbgrader

# Plain `nbgrader autograde` stops the whole run at a notebook with a copied cell (duplicate grade id),
# so that sample is left out of the class every run grades.
STOPS_PLAIN_NBGRADER = {"jupyterlab_accidents"}
NBGRADER_AUTOGRADE_PREPROCESSORS = [  # nbgrader's own default list (nbgrader.converters.Autograde)
    "nbgrader.preprocessors.Execute", "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata"]
NBGRADER_SANITIZE_PREPROCESSORS = [  # the same, of the step before
    "nbgrader.preprocessors.ClearOutput", "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec", "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata"]


def repeat_class(samples, folder, students, first=0):
    """``students`` submissions in ``folder``, cycling through the sample students of ``samples``; returns the
    folder."""
    names = sorted(path.name for path in Path(samples).iterdir() if path.name not in STOPS_PLAIN_NBGRADER)
    for number, name in enumerate(islice(cycle(names), students), start=first):
        shutil.copytree(Path(samples) / name, Path(folder) / f"s{number:03d}_{name}")
    return Path(folder)


def plain_autograde(class_dir, course_root):
    """Seconds for nbgrader's own ``nbgrader autograde`` of the whole class, after copying it into submitted/."""
    generate_assignment(course_root)
    for student in class_dir.iterdir():
        shutil.copytree(student, course_root / "submitted" / student.name / ASSIGNMENT)
    preprocessors = [f"--Autograde.{step}_preprocessors={name}" for step, names in [
        ("sanitize", NBGRADER_SANITIZE_PREPROCESSORS), ("autograde", NBGRADER_AUTOGRADE_PREPROCESSORS)]
        for name in names]
    started = time.perf_counter()
    try:
        run_nbgrader("autograde", ASSIGNMENT, "--create", *preprocessors,
                     "--Execute.kernel_manager_class=jupyter_client.manager.AsyncKernelManager",
                     course_root=course_root, quiet=True)
    except subprocess.CalledProcessError:  # nbgrader exits 1 when some submission failed; it graded the rest
        pass
    return time.perf_counter() - started


def kit_grade(class_dir, course_root, jobs=None, python=sys.executable, cwd=None, scheduler=None):
    """Seconds for ``python -m autograder.grade`` (what ``make grade`` runs) on the class, here or through the Dask
    ``scheduler``."""
    command = [python, "-m", "autograder.grade", str(class_dir), f"--course-root={course_root}"]
    command += [f"--scheduler={scheduler}"] if scheduler else []
    started = time.perf_counter()
    subprocess.run(command + ([f"--jobs={jobs}"] if jobs else []), check=True, stdout=subprocess.DEVNULL, cwd=cwd)
    return time.perf_counter() - started


def _cpu_jiffies():
    """(busy, total) clock ticks of all cores since boot, from /proc/stat (Linux)."""
    with open("/proc/stat") as file:
        ticks = [int(value) for value in file.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return sum(ticks) - idle, sum(ticks)


def busy_cores(run):
    """(the result of ``run()``, the share of this machine's core time that was busy while it ran); the machine is
    assumed otherwise quiet."""
    busy_before, total_before = _cpu_jiffies()
    result = run()
    busy_after, total_after = _cpu_jiffies()
    return result, (busy_after - busy_before) / max(1, total_after - total_before)


def stage_means(reports):
    """{stage: mean seconds per student} from a run's seconds.csv."""
    with open(Path(reports) / "seconds.csv") as file:
        rows = list(csv.DictReader(file))
    return {stage: sum(float(row[stage]) for row in rows) / len(rows) for stage in stages.STAGES}


def baseline_grade(checkout, scratch, students):
    """Seconds for ``make grade`` of another checkout of the kit, on a class its own sample class built."""
    python = str(Path(checkout).resolve() / ".venv" / "bin" / "python")
    samples = scratch / "baseline-samples"
    subprocess.run([python, "-m", "autograder.sample_class", str(samples)], check=True, cwd=checkout,
                   stdout=subprocess.DEVNULL)
    class_dir = repeat_class(samples, scratch / "baseline-class", students)
    return kit_grade(class_dir, scratch / "baseline-course", python=python, cwd=checkout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=24, help="number of submissions (default 24)")
    parser.add_argument("--baseline", type=Path, help="another checkout of the kit, with its .venv, to time too")
    args = parser.parse_args(argv)
    n, cores = args.students, os.cpu_count()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        samples = sample_class.build(scratch / "samples", generate_assignment(scratch / "release-course"))
        class_dir = repeat_class(samples, scratch / "class", n)
        runs = {}
        if args.baseline:
            runs[f"make grade of {args.baseline}, {cores} workers"] = baseline_grade(args.baseline, scratch, n)
        runs["nbgrader autograde (nbgrader as it comes)"] = plain = plain_autograde(class_dir, scratch / "plain")
        runs["make grade, 1 worker"] = kit_grade(class_dir, scratch / "kit-1", jobs=1)
        kit, busy = busy_cores(lambda: kit_grade(class_dir, scratch / "kit"))
        runs[f"make grade, {cores} workers"] = kit
        breakdown = stage_means(scratch / "kit" / "reports")
        with cluster.started_cluster(scratch, workers=cores) as scheduler:
            runs[f"make grade, {cores} Dask workers through a scheduler"] = kit_grade(class_dir, scratch / "kit-dask",
                                                                                     scheduler=scheduler)
        repeat_class(samples, class_dir, 1, first=n)  # one late submission, then the same command again
        late = kit_grade(class_dir, scratch / "kit")
    print(f"{n} submissions (the sample class repeated), {cores} cores\n")
    width = max(map(len, runs))
    for name, seconds in runs.items():
        print(f"  {name:{width}}  {seconds:7.1f} s  {seconds / n:6.2f} s per submission")
    print(f"\n  ratio make grade ({cores} workers) / nbgrader autograde: {kit / plain:.2f}; the {cores} workers kept "
          f"the cores {busy:.0%} busy")
    print(f"  re-run after one late submission (only it is graded): {late:.1f} s")
    print(f"\nSeconds per student and stage, make grade with {cores} workers (the verdicts and their training run "
          "beside nbgrader's kernels, so stages overlap):")
    print("  " + ", ".join(f"{stage} {seconds:.2f}" for stage, seconds in breakdown.items()))
    print()
    layer_speed.main()  # notebook 04's speed table, on the reference layers


if __name__ == "__main__":
    main()
