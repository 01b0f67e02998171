"""The in-container box, on this host: what it checks before it runs. (It runs, with
attacks, inside a container as on Gradescope: tests/test_gradescope_export.py.)"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from grader.boxes import BoxUnavailable, make_box
from grader.boxes.in_container import InContainerBox, exposed_secrets, usable_by_others
from grader.config import GradingConfig
from grader.options import GradingOptions
from grader.pipeline import secret_files
from tests.grading_fixtures import cases_with_limits


@pytest.fixture
def open_dir():
    """A folder other users can reach (pytest's own temporary folders are private)."""
    folder = Path(tempfile.mkdtemp(prefix="nn-grader-open-"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder)


def test_secrets_readable_by_other_users_are_found(open_dir):
    tmp_path = open_dir
    cases = cases_with_limits(tmp_path / "cases", "")
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    (cache / "test_labels.npy").write_bytes(b"labels")
    options = GradingOptions(cases_dir=cases, mnist_cache_dir=tmp_path / "cache")
    secrets = secret_files(GradingConfig(), options)  # what the sections name, MNIST skipped or not
    assert secret_files(GradingConfig(), GradingOptions(
        cases_dir=cases, mnist_cache_dir=tmp_path / "cache", skip_mnist=True)) == secrets
    exposed = exposed_secrets(secrets)
    assert cache / "test_labels.npy" in exposed
    assert any(path.match("*_gt/*.npz") for path in exposed)
    assert all(path.match("hidden/*_gt/*.npz") or path.name == "test_labels.npy"
               for path in secrets)
    os.chmod(cases / "hidden", 0o700)
    os.chmod(cache, 0o700)
    assert exposed_secrets(secrets) == []


def test_usable_by_others_follows_every_parent(open_dir):
    folder = open_dir / "closed"
    folder.mkdir(mode=0o700)
    (folder / "file").write_text("x")
    os.chmod(folder / "file", 0o644)
    assert not usable_by_others(folder / "file")
    os.chmod(folder, 0o711)
    assert usable_by_others(folder / "file")


@pytest.mark.skipif(os.geteuid() != 0, reason="as another user the box refuses for that first")
def test_a_python_the_box_uid_cannot_use_is_named(monkeypatch):
    monkeypatch.setattr("grader.boxes.in_container.unreachable_python",
                        lambda: ["/root/.pyenv/python3"])
    with pytest.raises(BoxUnavailable, match="cannot use this Python.*/root/.pyenv"):
        InContainerBox()


@pytest.mark.skipif(os.geteuid() != 0, reason="the fallback is for root only")
def test_without_bubblewrap_root_falls_back_to_it_or_says_why_not(monkeypatch):
    from grader.boxes import bwrap

    monkeypatch.setattr(bwrap, "bwrap_problem", lambda: "bubblewrap cannot create namespaces")
    options = GradingOptions(skip_mnist=True)
    try:
        box = make_box(options, GradingConfig())
    except BoxUnavailable as error:  # this host's Python is private to root
        assert "bubblewrap cannot create namespaces; the in-container box:" in str(error)
    else:
        assert box.name == "in-container"
    refuse = GradingConfig.model_validate({"box": {"in_container_fallback": False}})
    with pytest.raises(BoxUnavailable, match="^bubblewrap cannot create namespaces$"):
        make_box(options, refuse)
