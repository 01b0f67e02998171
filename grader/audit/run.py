"""The audit: grade every mutant and every accepted variant through the box, as submissions.

1. Mutants and variants are graded on the cases (unit sections, in parallel like a batch).
2. A variant that fails is a false fail of the cases.
3. A mutant that passes is graded on the probe set: if it passes there too it is
   equivalent (no case could kill it), else it survived, and the probe case that
   kills it is a model for a new case.
"""
from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from grader.audit.mutants import Mutant, generate_mutants
from grader.audit.probes import write_probes
from grader.audit.report import AuditReport, MutantResult, SectionAudit, VariantResult
from grader.audit.variants import Variant, VariantError, accepted_variants
from grader.batch.executors import LocalExecutor
from grader.batch.grading import Job
from grader.boxes.machine_share import machine_cores
from grader.config import ConfigError, load_config
from grader.gradings import Key
from grader.options import GradingOptions
from grader.pipeline import REFERENCE_SOLUTION
from grader.reports.model import GradingReport, Verdict
from reference import common

OnGraded = Callable[[int, int], None]  # (graded, to grade)


class AuditError(Exception):
    """The audit cannot run (no cases, the reference changed under a variant)."""


def _grade(sources: dict[str, str], cases_dir: Path, jobs: int, folder: Path,
           on_graded: OnGraded) -> dict[str, GradingReport]:
    """Grade each source (by name) as a submission on ``cases_dir``, ``jobs`` at once."""
    folder.mkdir(parents=True, exist_ok=True)
    work = []
    for name, source in sources.items():
        path = folder / f"{name}.py"
        path.write_text(source, encoding="utf-8")
        work.append(Job(Key(name, "", "", ""), path, ""))
    executor = LocalExecutor(GradingOptions(cases_dir=cases_dir, skip_mnist=True), jobs)
    reports: dict[str, GradingReport] = {}
    try:
        for finished in executor.grade(work, lambda running: None):
            reports[finished.job.student] = finished.report
            on_graded(len(reports), len(work))
    finally:
        executor.close()
    return reports


def _failures(report: GradingReport, section: str | None = None) -> list[str]:
    """'section: verdict (first failing case)' for each failed unit section."""
    if report.error:
        return [f"not graded: {report.error.splitlines()[0]}"]
    found = []
    for result in report.sections:
        if (section and result.name != section) or \
                result.verdict in (Verdict.passed, Verdict.skipped):
            continue
        case = next((c for c in result.cases if c.verdict != Verdict.passed), None)
        found.append(f"{result.name}: {result.verdict.value}" +
                     (f" ({case.name}, {case.visibility})" if case else ""))
    return found


def _variant_result(variant: Variant, report: GradingReport) -> VariantResult:
    failures = _failures(report)
    return VariantResult(name=variant.name, section=variant.section,
                         explanation=variant.explanation, passed=not failures, failures=failures)


def _mutant_result(mutant: Mutant, report: GradingReport,
                   probe_report: GradingReport | None) -> MutantResult:
    failures = _failures(report, mutant.section) or _failures(report)
    base = dict(id=mutant.id, section=mutant.section, operator=mutant.operator,
                explanation=mutant.explanation, line=mutant.line, diff=mutant.diff())
    if failures:
        return MutantResult(**base, status="killed", killed_by=failures[0])
    probe_failures = _failures(probe_report) if probe_report else []
    if probe_failures:
        return MutantResult(**base, status="survived", probe=probe_failures[0])
    return MutantResult(**base, status="equivalent")


def _sections(unit_sections: list[common.Section], mutants: list[MutantResult],
              false_fails: list[VariantResult], min_score: float) -> list[SectionAudit]:
    audits = []
    for section in unit_sections:
        mine = [m for m in mutants if m.section == section.name]
        counts = {status: sum(m.status == status for m in mine)
                  for status in ("killed", "survived", "equivalent")}
        judged = counts["killed"] + counts["survived"]
        score = counts["killed"] / judged if judged else None
        fails = sum(v.section == section.name for v in false_fails)
        audits.append(SectionAudit(section=section.name, mutants=len(mine), **counts,
                                   score=score, false_fails=fails,
                                   passed=not fails and (score is None or score >= min_score)))
    return audits


def run_audit(cases_dir: Path, jobs: int | None = None, sections: set[str] | None = None,
              on_graded: OnGraded = lambda done, total: None) -> AuditReport:
    """Audit the cases of ``cases_dir`` (of ``sections`` only, if given)."""
    started = time.monotonic()
    if not Path(cases_dir).is_dir():
        raise AuditError(f"test case directory {cases_dir} does not exist")
    try:
        config = load_config(cases_dir)
        unit_sections = [section for section in common.load_sections(Path(cases_dir) / "public")
                         if section.kind == "unit"]
    except (ConfigError, common.CaseFileError) as error:
        raise AuditError(str(error)) from None
    known = {section.name for section in unit_sections}
    if sections and not sections <= known:
        raise AuditError(f"unknown section {', '.join(sorted(sections - known))}; the unit "
                         f"sections are {', '.join(sorted(known))}")
    min_score, accepted = config.audit.min_score, accepted_variants(config.tolerance.max_epsilon)
    reference = REFERENCE_SOLUTION.read_text(encoding="utf-8")
    chosen = sections or known
    mutants = {mutant.id: mutant for mutant in generate_mutants(reference, tuple(unit_sections))
               if mutant.section in chosen}
    try:
        variants = {variant.name: variant.source(reference) for variant in accepted
                    if variant.section in chosen}
    except VariantError as error:
        raise AuditError(str(error)) from None
    jobs = jobs or machine_cores()
    with tempfile.TemporaryDirectory(prefix="nn-grader-audit-") as temporary:
        work = Path(temporary)
        graded = _grade({**{m.id: m.source for m in mutants.values()}, **variants}, cases_dir,
                        jobs, work / "on-cases", on_graded)
        passing = [name for name in mutants if not _failures(graded[name])]
        probes = write_probes(work / "probes", Path(cases_dir))
        on_probes = _grade({**{name: mutants[name].source for name in passing}, **variants},
                           probes, jobs, work / "on-probes", on_graded)
    by_name = {variant.name: variant for variant in accepted}
    variant_results = [_variant_result(by_name[name], graded[name]) for name in variants]
    probe_problems = [result for result in (_variant_result(by_name[name], on_probes[name])
                                            for name in variants) if not result.passed]
    mutant_results = [_mutant_result(mutant, graded[name], on_probes.get(name))
                      for name, mutant in mutants.items()]
    false_fails = [result for result in variant_results if not result.passed]
    audits = [audit for audit in _sections(unit_sections, mutant_results, false_fails, min_score)
              if audit.section in chosen]
    return AuditReport(
        cases=str(cases_dir), min_score=min_score, sections=audits, false_fails=false_fails,
        probe_problems=probe_problems,
        survivors=[m for m in mutant_results if m.status == "survived"],
        mutants=mutant_results, variants=variant_results,
        passed=all(audit.passed for audit in audits) and not false_fails,
        seconds=round(time.monotonic() - started, 1))
