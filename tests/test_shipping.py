"""What ships (grader/shipping.py): every destination's files listed, no secret in any, and
the kit, the Gradescope zip and the image's build context hold exactly their list."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import shipping
from grader.given_code import template
from grader.paths import REPO_DIR
from grader.shipping import Destination, Group, ShippingError
from tests.grading_fixtures import synthetic_mnist_cache

FRAMEWORK = {"interface.py", "common.py", "mnist_data.py", "run.py"}
SECRETS = {"reference/solution.py", "reference/generate.py"}
ZIP_SCRIPTS = {"setup.sh", "run_autograder", "requirements.txt"}


def files_under(folder: Path) -> set[str]:
    """The files below ``folder`` (caches aside), as paths relative to it."""
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts}


def with_digits(tmp_path: Path) -> dict[str, str]:
    """The environment of a command that ships the tests' synthetic digits as MNIST (a fresh
    machine has no MNIST of its own, and the fast tests download nothing)."""
    return {**os.environ, "GRADER_CACHE_DIR": str(synthetic_mnist_cache(tmp_path / "mnist"))}


def sources(name: str) -> set[str]:
    return {path.relative_to(REPO_DIR).as_posix() for path in shipping.files(name).values()}


# ------------------------------------------------------------------ the lists on this repo
def test_the_kit_takes_the_framework_and_the_public_cases():
    public = files_under(REPO_DIR / "test_cases" / "public")
    assert set(shipping.files("kit")) == FRAMEWORK | {f"tests/{name}" for name in public}


def test_the_zip_takes_the_grader_the_framework_all_cases_and_the_given_code():
    expected = ({f"grader/{name}" for name in files_under(REPO_DIR / "grader")}
                | {f"test_cases/{name}" for name in files_under(REPO_DIR / "test_cases")}
                | {f"reference/{name}" for name in FRAMEWORK | {"__init__.py"}}
                | {"student_template/solution.py", "pyproject.toml", "README.md"})
    assert set(shipping.files("gradescope")) == expected
    assert any(name.startswith("test_cases/hidden/") for name in expected)


def test_the_site_image_takes_what_the_zip_takes_under_src_and_its_wheels():
    site = set(shipping.files("site"))
    assert {name for name in site if not name.startswith("wheels/")} == {
        f"src/{name}" for name in shipping.files("gradescope")}
    assert "src/grader/serve/templates/base.html.j2" in site


def test_only_the_grading_sides_take_hidden_cases():
    assert {name for name, destination in shipping.DESTINATIONS.items()
            if not destination.withheld} == {"gradescope", "site"}


@pytest.mark.parametrize("name", shipping.DESTINATIONS)
def test_no_destination_takes_a_secret(name):
    assert SECRETS <= files_under(REPO_DIR)  # the secrets are here to be refused
    assert not sources(name) & SECRETS
    if shipping.DESTINATIONS[name].withheld:  # not a grading side: no hidden case, no label
        assert not [path for path in sources(name) if "hidden" in path or "labels" in path]


@pytest.mark.parametrize("entry", ["reference/*.py", "reference/**/*", "*/solution.py",
                                   "**/*.py", "reference/gen*"])
def test_an_entry_that_could_reach_a_secret_is_refused(monkeypatch, entry):
    monkeypatch.setitem(shipping.DESTINATIONS, "gradescope", Destination((Group((entry,)),)))
    with pytest.raises(ShippingError, match="matches the secret reference/"):
        shipping.files("gradescope")


@pytest.mark.parametrize("entry", ["test_cases/**/*", "test_cases/hidden/00_unittest_relu_gt/*"])
def test_hidden_cases_are_refused_where_withheld(monkeypatch, entry):
    monkeypatch.setitem(shipping.DESTINATIONS, "kit", Destination((Group((entry,)),)))
    with pytest.raises(ShippingError, match="test_cases/hidden/.* must not ship there"):
        shipping.files("kit")


# ------------------------------------------------------------------ what each destination holds
def test_the_generated_kit_holds_exactly_its_list(tmp_path):
    kit = template.write_template(tmp_path / "kit")
    assert files_under(kit) == set(shipping.files("kit")) | {"solution.py", "README.md"}


def test_the_exported_zip_holds_exactly_its_list(tmp_path):
    out = tmp_path / "autograder.zip"
    done = subprocess.run([sys.executable, "-m", "grader", "export", "gradescope", "--out",
                           str(out), "--no-download"], capture_output=True, text=True,
                          env=with_digits(tmp_path), timeout=600, cwd=REPO_DIR)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        assert bundle.getinfo("run_autograder").external_attr >> 16 & 0o111
        assert "numpy==" in bundle.read("requirements.txt").decode()
    extra = names - set(shipping.files("gradescope"))
    mnist = {name for name in extra if name.startswith("mnist-cache/")}
    assert extra - mnist == ZIP_SCRIPTS
    assert {name.rsplit("/", 1)[1] for name in mnist} >= {"train.npz", "test_images.npy"}


def test_the_image_context_is_staged_from_its_list_alone(tmp_path):
    root = tmp_path / "repo"
    for name in ("build/docker-wheels/numpy-2.0-cp311-manylinux.whl",
                 "build/docker-wheels/.requirements", "build/docker-context-mnist/train.npz",
                 "build/docker-context-mnist/test_images.npy",
                 "build/docker-context-mnist/test_labels.npy", "reference/solution.py",
                 "test_cases/hidden/00_unittest_relu_gt/relu_3d.npz"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    context = tmp_path / "context"
    (context / "mnist").mkdir(parents=True)
    (context / "mnist" / "test_labels.npy").write_text("left from an earlier stage")
    shipping.stage("image", context, root)
    assert files_under(context) == {"wheels/numpy-2.0-cp311-manylinux.whl", "mnist/train.npz",
                                    "mnist/test_images.npy"}
    (root / "build/docker-wheels/numpy-2.0-cp311-manylinux.whl").unlink()  # --official: none
    shipping.stage("image", context, root)
    assert (context / "wheels").is_dir() and files_under(context) == {
        "mnist/train.npz", "mnist/test_images.npy"}


def test_the_site_image_is_built_from_its_staged_context_only():
    dockerfile = (REPO_DIR / "docker" / "serve" / "Dockerfile").read_text()
    copied = re.findall(r"^COPY (\S+)/ ", dockerfile, re.MULTILINE)
    assert sorted(copied) == sorted(group.into for group in shipping.DESTINATIONS["site"].groups)
    script = (REPO_DIR / "docker" / "serve" / "build.sh").read_text()
    assert '-m grader.shipping stage site "$CONTEXT"' in script
    assert re.search(r'docker build -f docker/serve/Dockerfile .*\n.*"\$CONTEXT" >', script)


def test_the_image_is_built_from_the_staged_context_only():
    dockerfile = (REPO_DIR / "docker" / "Dockerfile").read_text()
    copied = re.findall(r"^COPY (?!--from)(\S+)/ ", dockerfile, re.MULTILINE)
    assert sorted(copied) == sorted(group.into for group in shipping.DESTINATIONS["image"].groups)
    script = (REPO_DIR / "docker" / "build_images.sh").read_text()
    assert '-m grader.shipping stage image "$CONTEXT"' in script
    assert re.search(r'docker build -f docker/Dockerfile .*"\$CONTEXT" >', script)


def test_a_stage_never_replaces_the_repository(tmp_path):
    root = tmp_path / "repo"
    (root / "kept").mkdir(parents=True)
    for target in (root, tmp_path, root / "kept" / ".."):
        with pytest.raises(ShippingError, match="holds the repository"):
            shipping.stage("kit", target, root)
    assert (root / "kept").is_dir()
