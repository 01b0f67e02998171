"""The unit sections (ReLU ... SGDMomentum): cases with expected outputs.

Each section's public and hidden cases run in a child each (``unit_child``, in the
box), all the unit sections in one shared box; the host compares the outputs with
the expected ones (``grader.sections.judge``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from grader.boxes.protocol import INPUTS_SUBDIR, RunSpec
from grader.boxes.session import BoxOutcome, RunOutcome
from grader.config import GradingConfig, UnitLimits
from grader.options import GradingOptions
from grader.reports.model import CaseResult, SectionResult, Verdict
from grader.sections import unit_child
from grader.sections.base import VISIBILITIES, CasesError, SectionKind, import_failure
from grader.sections.judge import judge_unit_run
from reference import common
from reference.common import Case, CaseFileError, Section


class UnitSection(SectionKind):
    """Cases with expected outputs: the box computes, the host compares."""

    box_key = "unit"
    entry = unit_child.ENTRY

    limits: UnitLimits

    def __init__(self, section: Section, limits: UnitLimits, cases_dir: Path):
        super().__init__(section, limits)
        self.cases_dir = Path(cases_dir)
        self.cases: dict[str, list[Case]] = {}
        # read now, while the box runs, not once it has ended
        self.expected: dict[str, dict[str, dict[str, np.ndarray]]] = {}
        try:
            for visibility in VISIBILITIES:
                cases_dir = self.cases_dir / visibility
                self.cases[visibility] = common.load_cases(cases_dir, section)
                self.expected[visibility] = {case.name: self.load_expected(cases_dir, case)
                                             for case in self.cases[visibility]}
        except CaseFileError as error:
            raise CasesError(str(error)) from None

    def load_expected(self, cases_dir: Path, case: Case) -> dict[str, np.ndarray]:
        path = common.expected_dir(cases_dir, self.section) / f"{case.name}.npz"
        if not path.is_file():
            raise CaseFileError(f"expected outputs {path} are missing")
        return common.load_expected(cases_dir, self.section, case)

    @classmethod
    def create(cls, section: Section, config: GradingConfig, options: GradingOptions
               ) -> UnitSection:
        return cls(section, config.unit, options.cases_dir)

    @classmethod
    def secret_files(cls, section: Section, config: GradingConfig, options: GradingOptions
                     ) -> list[Path]:
        """Its hidden expected outputs."""
        return sorted(common.expected_dir(Path(options.cases_dir) / "hidden", section)
                      .glob("*.npz"))

    def runs(self) -> list[RunSpec]:
        return [self.run_spec(visibility, self.limits.cpu_seconds,
                              input_dir=common.input_dir(Path(), self.section).name)
                for visibility in VISIBILITIES if self.cases[visibility]]

    def files(self, visibility: str) -> dict[str, bytes]:
        source = common.input_dir(self.cases_dir / visibility, self.section)
        return {f"{INPUTS_SUBDIR}/{visibility}/{source.name}/{path.name}": path.read_bytes()
                for path in sorted(source.iterdir()) if path.is_file()}

    def judge(self, outcome: BoxOutcome, runs: list[RunOutcome]) -> SectionResult:
        failure = import_failure(outcome)
        if failure is None:
            return self.judged(runs, outcome)
        cases = [CaseResult(name=case.name, visibility=visibility, verdict=Verdict.not_run,
                            message="not run: solution.py could not be imported")
                 for visibility in VISIBILITIES for case in self.cases[visibility]]
        return self.result(cases, self.seconds(runs), runs, (*failure, "section"))

    def judge_ended(self, runs: list[RunOutcome]) -> SectionResult:
        return self.judged(runs, None)

    def judged(self, runs: list[RunOutcome], outcome: BoxOutcome | None) -> SectionResult:
        """Every case of ``runs``; ``outcome`` explains the runs that did not end."""
        cases = []
        for run in runs:
            visibility = run.spec.visibility
            cases_dir = self.cases_dir / visibility
            cases += judge_unit_run(
                self.section, run, self.cases[visibility], outcome, self.expected[visibility],
                lambda case, cases_dir=cases_dir: common.load_inputs(cases_dir, self.section, case),
                self.limits.cpu_seconds, self.limits.memory_mb)
        return self.result(cases, self.seconds(runs), runs)

    @staticmethod
    def seconds(runs: list[RunOutcome]) -> float:
        return sum(run.ended.seconds for run in runs if run.ended)
