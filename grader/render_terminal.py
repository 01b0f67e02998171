"""The terminal report: a table of sections and the total, failures explained."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from grader.report_model import GradingReport, SectionResult, Verdict

STYLES = {Verdict.passed: "green", Verdict.skipped: "yellow"}


def _status_text(section: SectionResult) -> str:
    style = STYLES.get(section.status, "red")
    return f"[{style}]{section.status.value}[/{style}]"


def _section_notes(section: SectionResult, verbose: bool) -> list[str]:
    notes = []
    if section.mnist:
        info = section.mnist
        accuracy = "n/a" if info.accuracy is None else f"{info.accuracy:.4f}"
        seconds = "n/a" if info.seconds is None else f"{info.seconds:.1f} s"
        notes.append(f"dataset {info.dataset} ({info.train_size} train / {info.test_size} test "
                     f"images, from {info.dataset_source}); accuracy {accuracy} (must exceed "
                     f"{info.min_accuracy:.2f}); time {seconds} of {info.time_limit_seconds:g} s; "
                     f"BLAS threads {info.blas_threads}")
    failures = [case for case in section.cases if case.verdict not in (Verdict.passed, Verdict.not_run)]
    if verbose:
        notes += [case.message for case in failures]
    elif section.message:
        notes.append(section.message)
    if section.output_tail.strip() and section.status not in (Verdict.passed, Verdict.skipped):
        lines = section.output_tail.strip().splitlines()[-10:]
        notes.append("last output of the submission:\n  " + "\n  ".join(lines))
    return notes


def render(report: GradingReport, console: Console, verbose: bool = False) -> None:
    table = Table(title=f"Grading {report.submission}")
    for column, justify in (("Section", "left"), ("Status", "left"), ("Cases", "right"),
                            ("Points", "right"), ("Time", "right")):
        table.add_column(column, justify=justify)
    for section in report.sections:
        passed = sum(case.verdict == Verdict.passed for case in section.cases)
        table.add_row(section.title, _status_text(section), f"{passed}/{len(section.cases)}",
                      f"{section.points:g} / {section.max_points:g}", f"{section.seconds:.2f} s")
    table.add_section()
    table.add_row("[bold]Total[/bold]", "", "", f"[bold]{report.total:g} / {report.max_total:g}[/bold]",
                  f"{report.seconds:.2f} s")
    console.print(table)
    for section in report.sections:
        for note in _section_notes(section, verbose):
            console.print(f"[bold]{section.title}[/bold]: {note}", markup=True, highlight=False,
                          soft_wrap=True)
    for warning in report.warnings:
        console.print(f"[yellow]warning[/yellow]: {warning}", highlight=False, soft_wrap=True)
    sandbox = report.sandbox
    console.print(f"sandbox: {sandbox.backend} backend, isolation {sandbox.isolation}, network "
                  f"{'cut' if sandbox.network_cut else 'NOT cut'}"
                  + "".join(f"; {note}" for note in sandbox.notes), highlight=False)
