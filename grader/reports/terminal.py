"""The terminal report: a table of sections and the total, failures explained.

Built from rich ``Text`` objects, never from markup strings: nothing the
submission wrote is parsed as markup or emoji codes (the report's text fields
are already free of control characters).
"""
from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.reports import student_view
from grader.reports.model import GradingReport, SectionResult, Verdict

STYLES = {Verdict.passed: "green", Verdict.skipped: "yellow"}
TAIL_LINES = 10


def _mnist_note(section: SectionResult) -> str | None:
    info = section.mnist
    if info is None:
        return None
    accuracy = "n/a" if info.accuracy is None else f"{info.accuracy:.4f}"
    return (f"dataset {info.dataset} ({info.train_size} train / {info.test_size} test images, "
            f"from {info.dataset_source}); accuracy {accuracy} (must exceed "
            f"{info.min_accuracy:.2f}); {info.timing()}; {info.calibration}")


def _section_notes(section: SectionResult, verbose: bool, for_students: bool) -> list[str]:
    notes = [note for note in [_mnist_note(section)] if note]
    if for_students:
        failures = [case for case in student_view.cases(section)
                    if case.verdict not in (Verdict.passed, Verdict.not_run)]
        if verbose:
            notes += [case.message or f"{case.label}: {case.verdict.value}" for case in failures]
        elif section.verdict not in (Verdict.passed, Verdict.skipped):
            notes.append(student_view.section_message(section))
        tails = {"public": student_view.section_output(section)}
    else:
        failures = [case for case in section.cases
                    if case.verdict not in (Verdict.passed, Verdict.not_run)]
        notes += [case.message for case in failures] if verbose else \
            [section.message] if section.message else []
        tails = section.output_tails
    if section.verdict not in (Verdict.passed, Verdict.skipped):
        for visibility, tail in tails.items():
            if tail.strip():
                lines = tail.strip().splitlines()[-TAIL_LINES:]
                notes.append(f"last output ({visibility} cases):\n  " + "\n  ".join(lines))
    return notes


def _skipped_note(report: GradingReport) -> Text | None:
    """Under the table: the sections skipped, out of the total (a skip is no 0, nor a point)."""
    skipped = report.skipped_titles()
    if not skipped:
        return None
    return Text(f"{', '.join(skipped)} skipped: the total is out of "
                f"{report.graded_max_total():g}, not {report.max_total:g}",
                style=STYLES[Verdict.skipped])


def render(report: GradingReport, console: Console, verbose: bool = False,
           for_students: bool = False) -> None:
    table = Table(title=Text(f"Grading {report.submission}"), caption=_skipped_note(report))
    for column, justify in (("Section", "left"), ("Status", "left"), ("Cases", "right"),
                            ("Points", "right"), ("Time", "right")):
        table.add_column(column, justify=justify)
    for section in report.sections:
        passed = sum(case.verdict == Verdict.passed for case in section.cases)
        skipped = section.verdict == Verdict.skipped
        table.add_row(section.title, Text(section.verdict.value,
                                          style=STYLES.get(section.verdict, "red")),
                      "-" if skipped else f"{passed}/{len(section.cases)}",
                      Text("skipped", style=STYLES[Verdict.skipped]) if skipped
                      else f"{section.points:g} / {section.max_points:g}",
                      f"{section.seconds:.2f} s")
    table.add_section()
    table.add_row(Text("Total", style="bold"), "", "",
                  Text(f"{report.total:g} / {report.graded_max_total():g}", style="bold"),
                  f"{report.seconds:.2f} s")
    console.print(table)
    notes: dict[str, list[str]] = {}  # a failed import is told once, for all its sections
    for section in report.sections:
        for note in _section_notes(section, verbose, for_students):
            notes.setdefault(note, []).append(section.title)
    for note, titles in notes.items():
        console.print(Text.assemble((", ".join(titles), "bold"), ": ", note), soft_wrap=True)
    for warning in report.warnings:
        console.print(Text.assemble(("warning", "yellow"), ": ", warning), soft_wrap=True)
    error = student_view.error_message(report) if for_students else report.error
    if error:
        console.print(Text.assemble(("not graded", "bold red"), ": ", error), soft_wrap=True)
    sandbox = report.sandbox
    if sandbox is not None:
        console.print(Text(f"box: {sandbox.box}; resources: "
                           f"{sandbox.resources}; network "
                           f"{'cut' if sandbox.network_cut else 'NOT cut'}"
                           + "".join(f"; {note}" for note in sandbox.notes)), soft_wrap=True)
