"""grader audit: mutants the cases must fail, accepted variants they must pass."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from grader.audit.mutants import generate_mutants
from grader.audit.variants import Variant, VariantError, accepted_variants
from reference import common
from reference.generate import REFERENCE_DIR
from tests.grading_fixtures import REFERENCE_SOLUTION, cases_with_limits

REFERENCE = REFERENCE_SOLUTION.read_text(encoding="utf-8")
SOFTMAX_STABILITY = ("softmax_large_logits", "softmax_far_apart_rows", "softmax_wide_spread_rows")
LIMITS = "[unit]\ntimeout_seconds = 5\n\n[box]\nimport_timeout_seconds = 5\n"


def audit(*args: str) -> tuple[int, dict, str]:
    done = subprocess.run([sys.executable, "-m", "grader", "audit", *map(str, args)],
                          capture_output=True, text=True, timeout=600)
    json_path = Path(args[args.index("--json") + 1])
    report = json.loads(json_path.read_text()) if json_path.exists() else {}
    return done.returncode, report, done.stdout + done.stderr


def section_named(name: str) -> common.Section:
    return next(section for section in common.UNIT_SECTIONS if section.name == name)


def drop_cases(cases: Path, section: str, names: tuple[str, ...]) -> None:
    for visibility in ("public", "hidden"):
        folder = common.input_dir(cases / visibility, section_named(section))
        records = json.loads((folder / common.CASES_FILE).read_text())
        records["cases"] = [case for case in records["cases"] if case["name"] not in names]
        (folder / common.CASES_FILE).write_text(json.dumps(records, indent=2))


def add_case(cases: Path, case: common.Case, inputs: dict[str, np.ndarray]) -> None:
    """A hidden case whose expected outputs are the reference's."""
    solution, interface = common.import_solution(REFERENCE_DIR)
    section = section_named(case.section)
    folder = common.input_dir(cases / "hidden", section)
    records = json.loads((folder / common.CASES_FILE).read_text())
    records["cases"].append(case.to_json())
    (folder / common.CASES_FILE).write_text(json.dumps(records, indent=2))
    common.save_npz(folder / f"{case.name}.npz", inputs)
    common.save_npz(common.expected_dir(cases / "hidden", section) / f"{case.name}.npz",
                    common.execute_case(solution, interface, case, inputs))


def test_at_least_forty_mutants_across_the_six_unit_sections():
    mutants = generate_mutants(REFERENCE)
    by_section = Counter(mutant.section for mutant in mutants)
    assert len(mutants) >= 40 and set(by_section) == {s.name for s in common.UNIT_SECTIONS}
    assert min(by_section.values()) >= 5
    assert len({mutant.source for mutant in mutants}) == len(mutants)
    operators = {mutant.operator for mutant in mutants}
    assert {"no_max_shift", "drop_operand", "change_axis", "transpose", "large_eps",
            "double_division", "swap_hyperparameters", "in_place_update", "state_not_kept",
            "off_by_one", "flip_operator", "swap_operands"} <= operators


def test_a_mutant_changes_one_statement_of_a_solution_region_only():
    reference_lines = REFERENCE.splitlines()
    for mutant in generate_mutants(REFERENCE):
        ast.parse(mutant.source)
        lines = mutant.source.splitlines()
        before = reference_lines[:mutant.line - 1]
        assert lines[:mutant.line - 1] == before, mutant.id
        after = len(reference_lines) - mutant.line - mutant.original.count("\n") + 1
        assert lines[len(lines) - after:] == reference_lines[len(reference_lines) - after:]
        assert mutant.diff().startswith("--- reference/solution.py")


def test_no_max_shift_mutant_is_what_it_says():
    shifted = [m for m in generate_mutants(REFERENCE) if m.operator == "no_max_shift"]
    assert len(shifted) == 1 and "exps = np.exp(inputs)" in shifted[0].mutated


def test_every_accepted_variant_applies_and_a_stale_one_is_named():
    for variant in accepted_variants(1e-7):
        assert variant.source(REFERENCE) != REFERENCE
    stale = Variant("stale", "relu", "gone", (("no such line", "x"),))
    with pytest.raises(VariantError, match="stale.*not in the reference"):
        stale.source(REFERENCE)


def test_weakened_softmax_cases_let_the_no_max_shift_mutant_survive(tmp_path):
    cases = cases_with_limits(tmp_path / "cases", LIMITS + "\n[audit]\nmin_score = 1.0\n")
    drop_cases(cases, "softmax", SOFTMAX_STABILITY)
    code, report, output = audit("--cases", cases, "--section", "softmax", "--json",
                                 tmp_path / "audit.json")
    assert code == 1, output
    survivors = {m["operator"]: m for m in report["survivors"]}
    assert "no_max_shift" in survivors
    assert "softmax_far_apart_rows" in survivors["no_max_shift"]["probe"] or \
        "softmax_large_logits" in survivors["no_max_shift"]["probe"] or \
        "softmax_wide_spread_rows" in survivors["no_max_shift"]["probe"]
    assert "exps = np.exp(inputs)" in survivors["no_max_shift"]["diff"]
    assert "survived" in output and "no max shift" in output
    [softmax] = report["sections"]
    assert softmax["section"] == "softmax" and softmax["score"] < 1.0 and not softmax["passed"]


def test_a_case_that_hinges_on_the_size_of_a_small_epsilon_is_a_false_fail(tmp_path):
    """The case real students lost points to: true classes at 1e-5 compared with rtol 1e-5,
    where an epsilon of 1e-7 added to the predictions moves the gradient by 1%."""
    cases = cases_with_limits(tmp_path / "cases", LIMITS)
    y_gt = np.eye(3)[[0, 1, 2, 0]]
    y_pred = np.where(y_gt == 1, 1e-5, 0.5 - 5e-6)
    add_case(cases, common.Case(name="crossentropy_hopeless", section="crossentropy", op="loss",
                                description="true classes at 1e-5",
                                params={"loss": "CategoricalCrossentropy"}),
             {"y_gt": y_gt, "y_pred": y_pred})
    code, report, output = audit("--cases", cases, "--section", "crossentropy", "--json",
                                 tmp_path / "audit.json")
    assert code == 1
    failed = {fail["name"] for fail in report["false_fails"]}
    assert {"crossentropy_added_eps_1e-07", "crossentropy_added_eps_1e-08"} <= failed
    assert not failed & {"crossentropy_added_eps_1e-12",  # 1e-12 / 1e-5: within rtol
                         "crossentropy_clipped_1e-07"}    # 1e-5 is above the clip
    assert all("crossentropy_hopeless" in " ".join(fail["failures"])
               for fail in report["false_fails"])
    assert output.index("FALSE FAIL") < output.index("Mutation audit")  # reported first


def test_the_policys_epsilon_sets_the_epsilon_variants():
    names = {variant.name for variant in accepted_variants(1e-5)}
    assert {"crossentropy_added_eps_1e-05", "crossentropy_added_eps_1e-06",
            "crossentropy_added_eps_1e-12", "crossentropy_clipped_1e-05"} <= names
    assert not any("1e-04" in name for name in names)
    assert "crossentropy_added_eps_1e-05" not in {v.name for v in accepted_variants(1e-7)}


def test_unknown_sections_and_missing_cases_are_named(tmp_path):
    code, _, output = audit("--section", "attention", "--json", tmp_path / "a.json")
    assert code == 2 and "unknown section attention" in output
    code, _, output = audit("--cases", tmp_path / "nowhere", "--json", tmp_path / "a.json")
    assert code == 2 and "does not exist" in output


@pytest.mark.slow
def test_the_bundled_cases_pass_the_whole_audit(tmp_path):
    code, report, output = audit("--json", tmp_path / "audit.json")
    assert code == 0, output
    assert report["false_fails"] == [] and report["survivors"] == []
    assert all(section["score"] >= 0.9 for section in report["sections"])
    assert len(report["mutants"]) >= 40 and len(report["variants"]) >= 8
