"""A student's feedback as Markdown (``RESULTS/feedback/<student>.md``), ready to send back.

Built from the student view: hidden cases show only their verdict. Every text that
comes from the submission (messages, what it printed) goes in a fenced code block
whose fence is longer than any run of backticks inside, so no Markdown or HTML of
the submission is rendered by whatever shows the file.
"""
from __future__ import annotations

import re

from grader.reports import student_view
from grader.reports.model import GradingReport, Verdict

SPECIAL = re.compile(r"([\\`*_\[\]|<>&~])")
TAIL_LINES = 20


def inline(text: str) -> str:
    """``text`` as literal Markdown text on one line."""
    return SPECIAL.sub(r"\\\1", " ".join(text.split()))


def block(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def render(report: GradingReport, student: str) -> str:
    lines = [f"# Feedback for {inline(student)}", "",
             f"**Total: {report.total:g} / {report.graded_max_total():g}**", ""]
    skipped = report.skipped_titles()
    if skipped:
        lines += [f"{inline(', '.join(skipped))}: skipped, not graded this time (the total is "
                  f"out of {report.graded_max_total():g}, not {report.max_total:g}).", ""]
    error = student_view.error_message(report)
    if error:
        lines += ["Your submission could not be graded:", "", block(error), ""]
    lines += ["| Section | Result | Cases passed | Points |", "|---|---|---|---|"]
    for section in report.sections:
        if section.verdict == Verdict.skipped:
            lines.append(f"| {inline(section.title)} | skipped | - | skipped |")
            continue
        passed = sum(case.verdict == Verdict.passed for case in section.cases)
        lines.append(f"| {inline(section.title)} | {section.verdict.value} | "
                     f"{passed}/{len(section.cases)} | {section.points:g} / "
                     f"{section.max_points:g} |")
    lines.append("")
    for section in report.sections:
        if section.mnist is not None and section.mnist.accuracy is not None:
            lines += [f"MNIST: test accuracy {section.mnist.accuracy:.4f} (it must exceed "
                      f"{section.mnist.min_accuracy:.2f}); {inline(section.mnist.timing())}", ""]
    for section in report.sections:
        if section.verdict in (Verdict.passed, Verdict.skipped, Verdict.not_run):
            continue
        lines += [f"## {inline(section.title)}", ""]
        message = student_view.section_message(section)
        if message:
            lines += [block(message), ""]
        failed = [case for case in student_view.cases(section)
                  if case.verdict not in (Verdict.passed, Verdict.not_run)]
        lines += [f"- {inline(case.label)}: {case.verdict.value}" for case in failed]
        printed = student_view.section_output(section).strip()
        if printed:
            tail = "\n".join(printed.splitlines()[-TAIL_LINES:])
            lines += ["", "Last lines your code printed (public cases):", "", block(tail)]
        lines.append("")
    if report.warnings:
        lines += ["## Warnings", ""] + [block(warning) for warning in report.warnings] + [""]
    return "\n".join(lines)
