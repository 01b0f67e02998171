"""JUnit XML for CI test views (often a student's own CI): built from the student view."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from grader.reports import student_view
from grader.reports.model import GradingReport, SectionResult, Verdict


def _failed_whole(section: SectionResult) -> bool:
    """A failure of the whole section (solution.py not imported, given code changed): its cases
    were not run, so a test of the section's own says why (a CI view shows no failure else)."""
    return section.failure_scope == "section" and section.verdict not in (Verdict.passed,
                                                                          Verdict.skipped)


def _tests(section: SectionResult) -> int:
    """The section's test cases, and one of the section's own when it was skipped (it has no
    cases) or failed as a whole."""
    return len(section.cases) + (section.verdict == Verdict.skipped) + _failed_whole(section)


def render(report: GradingReport) -> str:
    root = ElementTree.Element("testsuites", name="nn-grader", tests=str(
        sum(_tests(section) for section in report.sections)))
    error = student_view.error_message(report)
    if error:
        suite = ElementTree.SubElement(root, "testsuite", name="submission", tests="1",
                                       errors="1")
        ElementTree.SubElement(ElementTree.SubElement(suite, "testcase", name="grading"),
                               "error", message=error.splitlines()[0]).text = error
    for section in report.sections:
        cases = student_view.cases(section)
        failures = sum(case.verdict not in (Verdict.passed, Verdict.skipped, Verdict.not_run)
                       for case in cases)
        skipped = section.verdict == Verdict.skipped
        suite = ElementTree.SubElement(
            root, "testsuite", name=section.name, tests=str(_tests(section)),
            failures=str(failures), errors=str(int(_failed_whole(section))), skipped=str(skipped + sum(
                case.verdict == Verdict.not_run for case in cases)),
            time=f"{section.seconds:.3f}")
        ElementTree.SubElement(ElementTree.SubElement(suite, "properties"), "property",
                               name="points", value="skipped" if skipped
                               else f"{section.points:g}/{section.max_points:g}")
        if skipped:
            ElementTree.SubElement(ElementTree.SubElement(suite, "testcase", name=section.name,
                                                          classname=section.name), "skipped",
                                   message=section.message)
        if _failed_whole(section):
            text = student_view.section_message(section) or section.verdict.value
            ElementTree.SubElement(ElementTree.SubElement(
                suite, "testcase", name=section.name, classname=section.name), "error",
                type=section.verdict.value, message=text.splitlines()[0]).text = text
        for case in cases:
            element = ElementTree.SubElement(suite, "testcase", name=case.label,
                                             classname=f"{section.name}.{'hidden' if case.hidden else 'public'}")
            if case.verdict == Verdict.not_run:
                ElementTree.SubElement(element, "skipped", message=case.message or "not run")
            elif case.verdict != Verdict.passed:
                text = case.message or case.verdict.value
                failure = ElementTree.SubElement(element, "failure", type=case.verdict.value,
                                                 message=text.splitlines()[0])
                failure.text = text
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
