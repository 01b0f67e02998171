"""JUnit XML for CI test views: a suite per section, a test case per case."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from grader.report_model import GradingReport, Verdict


def render(report: GradingReport) -> str:
    root = ElementTree.Element("testsuites", name="nn-grader", tests=str(
        sum(len(section.cases) for section in report.sections)))
    for section in report.sections:
        failures = sum(case.verdict not in (Verdict.passed, Verdict.skipped) for case in section.cases)
        suite = ElementTree.SubElement(root, "testsuite", name=section.name,
                                       tests=str(len(section.cases)), failures=str(failures),
                                       time=f"{section.seconds:.3f}")
        ElementTree.SubElement(ElementTree.SubElement(suite, "properties"), "property",
                               name="points", value=f"{section.points:g}/{section.max_points:g}")
        if section.status == Verdict.skipped:
            ElementTree.SubElement(ElementTree.SubElement(suite, "testcase", name=section.name,
                                                          classname=section.name), "skipped",
                                   message=section.message)
        for case in section.cases:
            element = ElementTree.SubElement(suite, "testcase", name=case.name,
                                             classname=f"{section.name}.{case.visibility}",
                                             time=f"{case.seconds or 0:.3f}")
            if case.verdict == Verdict.not_run:
                ElementTree.SubElement(element, "skipped", message=case.message or "not run")
            elif case.verdict != Verdict.passed:
                failure = ElementTree.SubElement(element, "failure", type=case.verdict.value,
                                                 message=case.message.splitlines()[0] if case.message else case.verdict.value)
                failure.text = case.message
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
