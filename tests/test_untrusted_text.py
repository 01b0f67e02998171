"""Text from a submission is escaped before any report holds it."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

import pytest

from grader.reports.model import CaseResult
from grader.reports.untrusted_text import shown

NASTY = "ok\x1b[2J\x1b]0;title\x07\r\x00\u202eevil\u2066\ufeff\ud800\uffff\x85\tend\n"


def test_controls_become_visible_escapes_and_newlines_and_tabs_stay():
    text = shown(NASTY)
    assert text == ("ok\\x1b[2J\\x1b]0;title\\x07\\x0d\\x00\\u202eevil\\u2066\\ufeff\\ud800"
                    "\\uffff\\x85\tend\n")
    assert shown(text) == text


@pytest.mark.parametrize("ordinary", ["Привет, мир", "naïve café ∑ ≤ 10⁻⁶", "`loss`: (3,)"])
def test_ordinary_text_is_unchanged(ordinary):
    assert shown(ordinary) == ordinary


def test_report_fields_are_escaped_on_the_way_in_and_fit_json_and_xml():
    case = CaseResult(name=NASTY, visibility="public", verdict="exception", message=NASTY)
    assert case.message == shown(NASTY)
    json.loads(case.model_dump_json())
    element = ElementTree.Element("failure", message=case.message)
    element.text = case.message
    ElementTree.fromstring(ElementTree.tostring(element))
