"""The grading pipeline: load the cases -> run each group of sections in a box -> judge ->
score -> report.

Sections that share a box (the six unit sections) are run by one supervisor
that imports the submission once; MNIST has a box of its own. Which kind of
box (bubblewrap, a Docker container, or none for trusted code) is the only
thing the backends change: the supervisor, the protocol and the judging are
the same.

A spare single-threaded box is started first, before numpy, the sections and
the cases are loaded (``grader.sections.kinds`` is imported only then): the box
boots on one core while the grader loads on the other. ``grader grade`` starts
it even earlier, fed from the last grading's plan (``grader.boxes.early_start``); it is
used only when it was given exactly what this grading gives it.
"""
from __future__ import annotations

import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from grader import __version__
from grader.boxes import Box, BoxUnavailable, make_box
from grader.boxes import early_start as early_box
from grader.boxes.base import BoxLimits, BoxShape, RunningBox, runtime_files
from grader.boxes.interpreter import PackageNotInstalled, imported_packages
from grader.boxes.machine_share import GradingStopped, SharedMachine
from grader.boxes.protocol import SOLUTION_FILE, BoxRequest
from grader.boxes.session import (
    BoxInput,
    BoxOutcome,
    Deadlines,
    ProgressCallback,
    RunOutcome,
    run_box,
)
from grader.boxes.uid_slots import NoFreeSlot, grading_uid
from grader.config import ConfigError, GradingConfig, load_config
from grader.given_code.check import check_modifications
from grader.given_code.template import given_code
from grader.options import GradingOptions
from grader.paths import REFERENCE_DIR
from grader.reports.model import (
    ErrorCause,
    GradingReport,
    SandboxInfo,
    SectionResult,
    Verdict,
)
from grader.submission import SubmissionError, cite_cells, read_submission

if TYPE_CHECKING:
    from grader.sections.kinds import SectionKind
    from reference.common import Section

SUPERVISOR_MEMORY_MB = 128  # the supervisor's own share of a box's memory
SUPERVISOR_PROCESSES = 16   # the supervisor, its threads and the box's init
REFERENCE_SOLUTION = REFERENCE_DIR / "solution.py"


class GradingError(Exception):
    """The grader cannot grade (broken test cases, invalid configuration, no box)."""


def case_sections(cases_dir: Path) -> tuple[Section, ...]:
    """The sections of the cases in ``cases_dir`` (``public/sections.json``), in report order:
    those of the cases graded, not of the default checkout (``common.SECTIONS``)."""
    from reference import common

    try:
        return common.load_sections(Path(cases_dir) / "public")
    except common.CaseFileError as error:
        raise GradingError(str(error)) from None


def failed_report(submission: Path | str, message: str, cause: ErrorCause,
                  cases_dir: Path) -> GradingReport:
    """What is reported when nothing could be graded: 0, every section of ``cases_dir`` not
    run (those of the default checkout when its cases cannot be read), the reason."""
    from reference import common

    try:
        sections = case_sections(cases_dir)
    except GradingError:
        sections = common.SECTIONS
    results = [SectionResult(name=section.name, title=section.title, points=0.0,
                             max_points=section.points, verdict=Verdict.not_run,
                             failure_scope="section")
               for section in sections]
    return GradingReport(submission=str(submission), total=0.0,
                         max_total=sum(section.points for section in sections),
                         sections=results, error=message, error_cause=cause, seconds=0.0,
                         grader_version=__version__)


def grade_or_failed_report(submission: Path, options: GradingOptions, *,
                           label: str | None = None, progress: ProgressCallback | None = None,
                           machine: SharedMachine | None = None) -> GradingReport:
    """``grade_submission``, or the failed report saying why nothing was graded: every caller
    (a command, Gradescope, a batch, the course site) must report something whatever happens,
    even a bug of ours. Only ``GradingStopped`` passes: a stopped grading has no verdict.
    ``label``: the submission's name as shown (a student), else its path."""
    shown = str(submission) if label is None else label
    try:
        report = grade_submission(submission, options, progress, machine)
    except GradingStopped:
        raise
    except SubmissionError as error:
        return failed_report(shown, str(error), ErrorCause.submission, options.cases_dir)
    except GradingError as error:
        return failed_report(shown, str(error), ErrorCause.grader, options.cases_dir)
    except Exception as error:  # noqa: BLE001 - a bug of ours: the caller still reports
        where = "".join(traceback.format_exception(error)[-3:])
        return failed_report(shown, f"internal error of the grader: {type(error).__name__}: "
                                    f"{error}\n{where}", ErrorCause.grader, options.cases_dir)
    report.submission = shown
    return report


def build_sections(config: GradingConfig, options: GradingOptions
                   ) -> tuple[list[SectionKind], dict[str, SectionResult]]:
    """The sections to grade, and the results of those ``options`` skip."""
    from grader.sections.kinds import KINDS, CasesError

    kinds, skipped = [], {}
    for section in case_sections(options.cases_dir):
        kind = KINDS[section.kind]
        reason = kind.skip_reason(options)
        if options.sections is not None and section.name not in options.sections:
            reason = "skipped (graded separately)"
        if reason:
            skipped[section.name] = SectionResult(
                name=section.name, title=section.title, points=0.0, max_points=section.points,
                verdict=Verdict.skipped, message=reason)
            continue
        try:
            kinds.append(kind.create(section, config, options))
        except CasesError as error:
            raise GradingError(f"{section.name}: {error}") from None
    return kinds, skipped


def secret_files(config: GradingConfig, options: GradingOptions) -> list[Path]:
    """The host files of every section, graded or skipped, that no submission may read."""
    from grader.sections.kinds import KINDS

    return [path for section in case_sections(options.cases_dir)
            for path in KINDS[section.kind].secret_files(section, config, options)]


def box_shape(group: list[SectionKind], config: GradingConfig, uid: int | None,
              packages: tuple[str, ...]) -> BoxShape:
    """What the box of ``group`` must be started with (``packages``: those solution.py
    imports)."""
    data_files = {}
    for kind in group:
        data_files.update(kind.data_files())
    return BoxShape(blas_threads=max(kind.blas_threads() for kind in group),
                    scratch_mb=config.box.scratch_mb, uid=uid,
                    data_files=tuple(sorted(data_files.items())), packages=packages)


def box_limits(group: list[SectionKind]) -> BoxLimits:
    return BoxLimits(
        memory_mb=max(kind.limits.memory_mb for kind in group) + SUPERVISOR_MEMORY_MB,
        max_processes=max(kind.limits.max_processes for kind in group) + SUPERVISOR_PROCESSES)


def box_input(group: list[SectionKind], source: bytes, config: GradingConfig) -> BoxInput:
    """What the box of ``group`` is given, every public run first."""
    modules = sorted({item for kind in group for item in kind.runtime_files().items()})
    files, hidden = {**runtime_files(tuple(modules)), SOLUTION_FILE: source}, {}
    for kind in group:
        files.update(kind.files("public"))
        hidden.update(kind.files("hidden"))
    runs = sorted((spec for kind in group for spec in kind.runs()),
                  key=lambda spec: spec.visibility != "public")
    request = BoxRequest(runs=runs, import_timeout_seconds=config.box.import_timeout_seconds)
    totals = [kind.total_seconds for kind in group if kind.total_seconds is not None]
    budgets = [kind.cpu_budget for kind in group if kind.cpu_budget is not None]
    deadlines = Deadlines(import_seconds=config.box.import_timeout_seconds,
                          total_seconds=max(totals) if totals else None,
                          cpu_seconds=max(budgets) if budgets else None)
    return BoxInput(request, box_limits(group), files, {"hidden": hidden}, deadlines)


def grade_group(running: RunningBox, box: Box, group: list[SectionKind], given: BoxInput,
                config: GradingConfig, on_progress: ProgressCallback | None,
                machine: SharedMachine | None = None) -> tuple[list[SectionResult], BoxOutcome]:
    """Run ``group`` in its started box, then let each section judge its own runs (a section
    whose runs have all ended is judged while the box runs the others)."""
    early: dict[str, SectionResult | None] = {}

    def judge_ended(runs: list[RunOutcome]) -> None:
        for kind in group:
            mine = [run for run in runs if run.spec.section == kind.name]
            if kind.name not in early and all(run.ended for run in mine):
                early[kind.name] = kind.judge_ended(mine)

    outcome = run_box(running, given, on_progress, machine.stop if machine else None,
                      judge_ended)
    outcome.allowed_packages = tuple(config.box.packages)  # for the hint of a failed import
    if machine is not None:
        machine.check()  # a box killed by the stop signal has no verdict
    if outcome.hello is None:  # before the hello only the grader's own code runs
        raise GradingError(f"the {box.name} box did not start ({outcome.failure.message}; exit "
                           f"code {outcome.exit.returncode}):\n{outcome.stderr_tail[-2000:]}")
    results = [early.get(kind.name) or kind.judge(
        outcome, [run for run in outcome.runs if run.spec.section == kind.name]) for kind in group]
    return results, outcome


def sandbox_info(config: GradingConfig, options: GradingOptions, box: Box, uid: int | None,
                 outcomes: list[BoxOutcome]) -> SandboxInfo:
    isolation = box.isolation(uid, lambda: secret_files(config, options))
    resources = "; ".join(dict.fromkeys(outcome.resources for outcome in outcomes)) or "none ran"
    return SandboxInfo(box=isolation.box, resources=resources,
                       network_cut=isolation.network_cut, secrets_hidden=isolation.secrets_hidden,
                       uid=uid, notes=isolation.notes)


def grade_boxes(box: Box, spare: RunningBox, source: bytes, config: GradingConfig,
                options: GradingOptions, on_progress: ProgressCallback | None,
                machine: SharedMachine | None = None
                ) -> tuple[dict[str, SectionResult], list[BoxOutcome]]:
    """Every section: a box per group (the spare one when its shape fits and it was not fed
    otherwise), then judged. With a ``machine`` shared by other gradings, a box runs only
    while it holds as many cores as it has threads."""
    uid, packages, outcomes = spare.shape.uid, spare.shape.packages, []
    try:
        kinds, results = build_sections(config, options)
        groups: dict[str, list[SectionKind]] = {}
        for kind in kinds:
            groups.setdefault(kind.box_key, []).append(kind)
        for group in groups.values():
            shape = box_shape(group, config, uid, packages)
            given = box_input(group, source, config)
            with machine.cpu.hold(shape.blas_threads, machine.stop) if machine \
                    else nullcontext():
                if spare is not None and spare.shape == shape:
                    running, spare = spare, None
                    if running.fed_otherwise(given.request, given.limits, given.files,
                                             given.later_files):
                        running.discard()  # an early box from an outdated plan
                        running = box.start(shape)
                    early_box.remember(options.cases_dir, config, box, given)
                else:
                    running = box.start(shape)
                group_results, outcome = grade_group(running, box, group, given, config,
                                                     on_progress, machine)
            outcomes.append(outcome)
            results.update((result.name, result) for result in group_results)
    finally:
        if spare is not None:  # no group had its shape, or grading stopped first
            spare.discard()
    return results, outcomes


def grade_submission(submission: Path, options: GradingOptions = GradingOptions(),
                     on_progress: ProgressCallback | None = None,
                     machine: SharedMachine | None = None) -> GradingReport:
    """Grade ``submission`` (``solution.py``, a notebook or a zip) on every section. Raises
    ``SubmissionError`` when what was sent cannot be graded and ``GradingError`` when the
    grader cannot grade; never for anything the submission's code does. ``machine``: shared
    with the other gradings of a batch (``GradingStopped`` once its stop signal is set)."""
    started = time.perf_counter()
    sent = read_submission(submission)
    source = sent.source
    text = source.decode("utf-8", errors="replace")  # UTF-8 already: read_submission made sure
    try:
        config = load_config(options.cases_dir)
    except ConfigError as error:
        raise GradingError(str(error)) from None
    if not Path(options.cases_dir).is_dir():
        raise GradingError(f"test case directory {options.cases_dir} does not exist")
    try:
        box = make_box(options, config)
    except BoxUnavailable as error:
        raise GradingError(f"no box to grade in: {error}") from None
    try:
        packages = imported_packages(text, tuple(config.box.packages))
    except PackageNotInstalled as error:
        raise GradingError(str(error)) from None
    uid_base = box.uid_base(config)
    early = early_box.claim(submission, options, config, box)  # `grader grade` started it
    with ThreadPoolExecutor(max_workers=1) as beside:  # the given-code check, while boxes run
        given_code_check = beside.submit(check_modifications, text, given_code())
        try:
            with early.holding_uid() if early else grading_uid(uid_base, config.box.uids) \
                    if box.needs_uid() else nullcontext() as uid:
                shape = BoxShape(blas_threads=1, scratch_mb=config.box.scratch_mb, uid=uid,
                                 packages=packages)
                spare = (early.take(shape) if early else None) or box.start(shape)
                results, outcomes = grade_boxes(box, spare, source, config, options,
                                                on_progress, machine)
        except (NoFreeSlot, BoxUnavailable) as error:
            raise GradingError(str(error)) from None
        given = given_code_check.result()
    graded = case_sections(options.cases_dir)  # not before the spare box: it loads numpy
    sections = [results[section.name] for section in graded]
    warnings = sent.warnings + given.warnings()
    if given.changes and config.policy.fail_on_modified_code:
        for section in sections:
            section.points, section.verdict = 0.0, Verdict.modified_code
            section.message = f"given code was modified: {given.changes[0]}"
            section.failure_scope = "section"
        warnings.append("the submission fails: given code was modified "
                        "(policy.fail_on_modified_code = true)")
    if sent.line_map:  # a notebook: cite its cells' lines, not those of the joined code
        warnings = [cite_cells(warning, sent.line_map) for warning in warnings]
        for section in sections:
            section.message = cite_cells(section.message, sent.line_map)
            for case in section.cases:
                case.message = cite_cells(case.message, sent.line_map)
    return GradingReport(
        submission=str(submission), total=sum(s.points for s in sections),
        max_total=sum(s.points for s in graded), sections=sections, warnings=warnings,
        sandbox=sandbox_info(config, options, box, uid, outcomes),
        seconds=round(time.perf_counter() - started, 3), grader_version=__version__)
