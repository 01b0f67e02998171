"""JUnit XML for CI test views (often a student's own CI): built from the student view."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from grader import student_view
from grader.report_model import GradingReport, Verdict


def render(report: GradingReport) -> str:
    root = ElementTree.Element("testsuites", name="nn-grader", tests=str(
        sum(len(section.cases) for section in report.sections)))
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
        suite = ElementTree.SubElement(root, "testsuite", name=section.name,
                                       tests=str(len(cases)), failures=str(failures),
                                       time=f"{section.seconds:.3f}")
        ElementTree.SubElement(ElementTree.SubElement(suite, "properties"), "property",
                               name="points", value=f"{section.points:g}/{section.max_points:g}")
        if section.status == Verdict.skipped:
            ElementTree.SubElement(ElementTree.SubElement(suite, "testcase", name=section.name,
                                                          classname=section.name), "skipped",
                                   message=section.message)
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
