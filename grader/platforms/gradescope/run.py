"""What an exported autograder's ``run_autograder`` runs on Gradescope, for each submission.

It grades what the student uploaded under ``/autograder/submission/`` (``solution.py``,
else the only notebook, ``.py`` or zip, as a student folder of a batch) and always
writes ``/autograder/results/results.json``: the grading's, a 0 with the reason when
nothing could be graded, or a 0 saying the autograder failed, whatever happens. The
instructor's full report goes to stdout (Gradescope shows it to instructors only).
"""
from __future__ import annotations

import json
import traceback
from pathlib import Path

from rich.console import Console

from grader.batch.layouts import student_file
from grader.files import write_atomically
from grader.options import GradingOptions
from grader.pipeline import failed_report, grade_or_failed_report
from grader.platforms.gradescope import results as render_gradescope
from grader.reports import terminal as render_terminal
from grader.reports.model import ErrorCause, GradingReport

FAILED_OUTPUT = ("The autograder failed on its side, not yours: {reason}. Your instructor "
                 "can see the details; please tell them.")


def grade_upload(submission_dir: Path, options: GradingOptions) -> GradingReport:
    found = student_file(submission_dir)
    if found.path is None:
        return failed_report(submission_dir, f"nothing to grade in your upload: {found.problem}",
                             ErrorCause.submission, options.cases_dir)
    return grade_or_failed_report(found.path, options)


def run(submission_dir: Path, results: Path, options: GradingOptions) -> int:
    """Grade and write ``results``; 0 when a report was written from a grading, 1 otherwise."""
    try:
        report = grade_upload(submission_dir, options)
        render_terminal.render(report, Console(), verbose=True)
        write_atomically(results, render_gradescope.render(report))
        return 0 if report.error_cause != ErrorCause.grader else 1
    except BaseException as error:  # noqa: BLE001 - whatever happens, Gradescope gets results
        print(traceback.format_exc(), flush=True)
        reason = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        write_atomically(results, json.dumps(
            {"score": 0.0, "output": FAILED_OUTPUT.format(reason=reason),
             "visibility": "visible", "stdout_visibility": "hidden", "tests": []}, indent=2))
        return 1
