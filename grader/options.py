"""How one grading is asked for: the options every entry point (CLI, batch, tests) passes, and
the command line's options of ``grader grade``, declared once.

Standard library only: ``grader grade`` reads its command line with these declarations
before it loads anything heavy (``grader.boxes.early_start``), and ``grader.cli`` makes its
typer options of the very same ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.paths import DEFAULT_CASES_DIR

DEFAULT_BOX = "bwrap"
OLD_BACKENDS = {"process": DEFAULT_BOX, "docker": "docker"}  # --backend, for one release


@dataclass(frozen=True)
class GradingOptions:
    cases_dir: Path = DEFAULT_CASES_DIR
    skip_mnist: bool = False
    sections: frozenset[str] | None = None  # grade only these sections (None: all); the others
                                            # read "skipped" (grader serve's lanes)
    mnist_dir: Path | None = None
    mnist_cache_dir: Path | None = None  # default: $GRADER_CACHE_DIR or ~/.cache/nn-grader/mnist
    mnist_fetch: bool = True  # False: only a directory or the cache, never download or npm
    blas_threads: int | None = None  # for MNIST (None: grading.toml's); unit sections use one
    box: str = DEFAULT_BOX  # a kind of grader.boxes.BOXES by name: bwrap (as root without
    #                         namespaces: in-container), docker, in-container, none (trusted code)
    image: str | None = None  # the docker box's image: None means grading.toml's [docker] image


class OptionsError(ValueError):
    """Options that contradict each other; the message says which."""


def chosen_box(box: str | None, backend: str | None = None, no_sandbox: bool = False,
               image: str | None = None) -> str:
    """The box ``--box`` names, or its old spellings ``--backend process|docker`` and
    ``--no-sandbox`` (hidden aliases for one release), else the default."""
    if backend is not None and backend not in OLD_BACKENDS:
        raise OptionsError(f"unknown backend {backend!r}: process or docker (--box names the "
                           "box now)")
    if no_sandbox and backend == "docker":
        raise OptionsError("--no-sandbox is for the process backend; a container is always a box")
    old = "none" if no_sandbox else OLD_BACKENDS.get(backend)
    if box is not None and old is not None and old != box:
        said = "--no-sandbox" if no_sandbox else f"--backend {backend}"
        raise OptionsError(f"--box {box} contradicts {said} (the old way to say --box {old})")
    chosen = box or old or DEFAULT_BOX
    if image is not None and chosen != "docker":
        raise OptionsError("--image is only used with --box docker")
    return chosen


@dataclass(frozen=True)
class Flag:
    """One option of the command line: its names and help (``grader.cli`` makes a typer
    option of it), and whether a value follows it."""

    names: tuple[str, ...]
    help: str
    takes_value: bool = True
    hidden: bool = False
    envvar: str | None = None


FLAGS = {
    "cases": Flag(("--cases",), "test case directory (with grading.toml)"),
    "skip_mnist": Flag(("--skip-mnist",), "do not train on MNIST", takes_value=False),
    "mnist_dir": Flag(("--mnist-dir",), "directory with the four standard MNIST IDX files",
                      envvar="MNIST_DIR"),
    "no_download": Flag(("--no-download",), "MNIST only from --mnist-dir or the cache: no "
                        "download, no npm", takes_value=False),
    "json_path": Flag(("--json",), "write the full report as JSON"),
    "gradescope": Flag(("--gradescope",), "write Gradescope's results.json"),
    "junit": Flag(("--junit",), "write JUnit XML"),
    "verbose": Flag(("--verbose", "-v"), "explain every failure", takes_value=False),
    "box": Flag(("--box",), "the box, bwrap by default (bubblewrap; as root where namespaces "
                "are refused, the in-container box); docker: a container of the grading image "
                "(docker/build_images.sh); in-container; none: no box at all, for trusted code "
                "only (every report says so)"),
    "image": Flag(("--image",), "grading image of the docker box (default: docker.image in "
                  "grading.toml, nn-grader:latest)"),
    "backend": Flag(("--backend",), "old name of --box: process (bwrap) or docker",
                    hidden=True),
    "no_sandbox": Flag(("--no-sandbox",), "old name of --box none", takes_value=False,
                       hidden=True),
    "for_students": Flag(("--for-students",), "print only what a student may see (e.g. in a "
                         "student's CI): hidden cases show their verdict only",
                         takes_value=False),
}
GRADE_FLAGS = ("cases", "skip_mnist", "mnist_dir", "no_download", "json_path", "gradescope",
               "junit", "verbose", "box", "image", "backend", "no_sandbox", "for_students")


def read_command_line(arguments: list[str], flags: tuple[str, ...] = GRADE_FLAGS
                      ) -> tuple[list[str], dict[str, str | bool]] | None:
    """The positional arguments and the options (by key of ``FLAGS``) of ``arguments`` as
    ``flags`` declare them; None for anything else (``--help``, an option they do not hold,
    a value missing): the command then tells what is wrong."""
    by_name = {name: key for key in flags for name in FLAGS[key].names}
    positional, values = [], {}
    tokens = iter(arguments)
    for token in tokens:
        if not token.startswith("-") or token == "-":
            positional.append(token)
            continue
        name, equals, value = token.partition("=")
        key = by_name.get(name)
        if key is None or (equals and not FLAGS[key].takes_value):
            return None
        if FLAGS[key].takes_value and not equals:
            value = next(tokens, None)
            if value is None:
                return None
        values[key] = value if FLAGS[key].takes_value else True
    return positional, values
