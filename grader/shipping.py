"""What ships: the one allowlist of every destination that leaves the repository.

Each destination takes the files its entries match (globs relative to the repository root,
in groups that land in a folder of their own there), nothing else. The reference solution
and its generator are secrets: no entry may match them, and ``files`` refuses a list that
would. The hidden cases and the MNIST test labels go only where the grader grades and keeps
them from the box (the Gradescope zip). Standard library only: ``docker/build_images.sh``
stages the image's build context with ``python -m grader.shipping stage image DIR``.
"""
from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

from grader.paths import REPO_DIR

SECRETS = ("reference/solution.py", "reference/generate.py")  # never shipped anywhere
GRADING_ONLY = ("test_cases/hidden/*", "*test_labels.npy")  # only where the grader guards them


@dataclass(frozen=True)
class Group:
    """Entries taken from the folder ``base`` of the repository into ``into`` at the destination."""
    entries: tuple[str, ...]
    base: str = ""
    into: str = ""


FRAMEWORK = ("reference/interface.py", "reference/common.py", "reference/mnist_data.py",
             "reference/run.py")
GRADER = ("grader/**/*.py", "grader/batch/templates/*.j2", "grader/serve/templates/*.j2",
          "grader/platforms/gradescope/files/*")
PACKAGE = ("reference/__init__.py", "pyproject.toml", "README.md")  # what `pip install` reads
CASES_CONFIG = ("test_cases/grading.toml",)
PUBLIC_CASES = ("test_cases/public/**/*",)
HIDDEN_CASES = ("test_cases/hidden/**/*",)
GIVEN_CODE = ("student_template/solution.py",)  # the modification check's given code
IMAGE_WHEELS = ("build/docker-wheels/*.whl",)  # docker/build_images.sh puts them there
# where the grader grades: its code and everything it reads (the hidden cases too)
GRADING_SIDE = GRADER + FRAMEWORK + PACKAGE + GIVEN_CODE + CASES_CONFIG + PUBLIC_CASES + HIDDEN_CASES
SITE_WHEELS = ("build/serve-wheels/*.whl",)  # docker/serve/build.sh puts them there
IMAGE_MNIST = ("build/docker-context-mnist/train.npz", "build/docker-context-mnist/test_images.npy")


@dataclass(frozen=True)
class Destination:
    """Where files go, and what of ``GRADING_ONLY`` it must never take."""
    groups: tuple[Group, ...]
    withheld: tuple[str, ...] = GRADING_ONLY


DESTINATIONS = {
    # the student kit (grader template; it also writes solution.py and README.md)
    "kit": Destination((Group(FRAMEWORK, base="reference"),
                        Group(PUBLIC_CASES, base="test_cases/public", into="tests"))),
    # the grading image's build context (docker/Dockerfile copies wheels/ and mnist/)
    "image": Destination((Group(IMAGE_WHEELS, base="build/docker-wheels", into="wheels"),
                          Group(IMAGE_MNIST, base="build/docker-context-mnist", into="mnist"))),
    # the Gradescope autograder zip (grader export gradescope adds its scripts, requirements,
    # MNIST and wheels); /autograder/source is readable by root only there
    "gradescope": Destination((Group(GRADING_SIDE),), withheld=()),
    # the course site's image (docker/serve/Dockerfile): the grader that grades there, with
    # every case, and the wheels it installs from
    "site": Destination((Group(GRADING_SIDE, into="src"),
                         Group(SITE_WHEELS, base="build/serve-wheels", into="wheels")),
                        withheld=()),
}


def _reaches(pattern: str, path: str) -> bool:
    """Whether ``pattern`` could match ``path``, erring on yes: ``*`` spans folders and
    ``**/`` may be no folder at all."""
    return fnmatch(path, pattern) or fnmatch(path, pattern.replace("**/", ""))


class ShippingError(Exception):
    """A destination's list would ship a secret, or a stage would replace the repository."""


def files(name: str, root: Path = REPO_DIR) -> dict[str, Path]:
    """The files destination ``name`` takes: each one's path there -> its file in ``root``.
    Refuses an entry that matches a secret, and any matched file that is one or is withheld."""
    destination = DESTINATIONS[name]
    found = {}
    for group in destination.groups:
        for entry in group.entries:
            secrets = [secret for secret in SECRETS if _reaches(entry, secret)]
            if secrets:
                raise ShippingError(f"{name}: the entry {entry!r} matches the secret {secrets[0]}")
            for path in sorted(root.glob(entry)):
                relative = path.relative_to(root).as_posix()
                if any(_reaches(pattern, relative) for pattern in SECRETS + destination.withheld):
                    raise ShippingError(f"{name}: {relative} must not ship there ({entry!r})")
                if path.is_file() and "__pycache__" not in path.parts:
                    there = PurePosixPath(group.into) / PurePosixPath(relative).relative_to(group.base)
                    found[there.as_posix()] = path
    return found


def stage(name: str, target: Path, root: Path = REPO_DIR) -> dict[str, Path]:
    """(Re)create ``target`` holding exactly the files of destination ``name`` and each group's
    folder (even empty, so that a Dockerfile can copy it); returns what ``files`` does."""
    target = Path(target)
    if target.resolve() in (root.resolve(), *root.resolve().parents):
        raise ShippingError(f"{target} holds the repository: stage into a folder of its own")
    shipped = files(name, root)
    if target.exists():
        shutil.rmtree(target)
    for group in DESTINATIONS[name].groups:
        (target / group.into).mkdir(parents=True, exist_ok=True)
    for there, source in shipped.items():
        (target / there).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / there)
    return shipped


def main(argv: list[str]) -> int:
    """``list DESTINATION``: print what it takes; ``stage DESTINATION DIR``: copy it there."""
    usage = f"usage: python -m grader.shipping list|stage {'|'.join(DESTINATIONS)} [DIR]"
    if len(argv) not in (2, 3) or argv[0] not in ("list", "stage") or argv[1] not in DESTINATIONS \
            or (argv[0] == "stage") != (len(argv) == 3):
        print(usage, file=sys.stderr)
        return 2
    try:
        if argv[0] == "list":
            print("\n".join(sorted(files(argv[1]))))
        else:
            staged = stage(argv[1], Path(argv[2]))
            print(f"grader.shipping: {len(staged)} files staged in {argv[2]}", file=sys.stderr)
    except ShippingError as error:
        print(f"grader.shipping: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
