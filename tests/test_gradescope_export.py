"""grader export gradescope: setup.sh and run_autograder of the zip as Gradescope runs them,
in a container from the locally built base image, as root, without network (what the zip
holds: tests/test_shipping.py)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest

from tests.grading_fixtures import PLOTS_AND_PROGRESS, REFERENCE_SOLUTION
from tests.support.classroom import (
    PRELUDE,
    broken_source,
    hostile_source,
    reference_source,
)


def hostile_prelude() -> str:
    return reference_source().rstrip() + "\n\n\n" + PRELUDE + "\n\n"

from tests.support.gradescope_schema import Results

BASE_IMAGE = "grader-base:bookworm"
LEFTOVER = (  # processes of a grading's uid (62000 and up) still there
    "import pathlib\n"
    "for status in pathlib.Path('/proc').glob('[0-9]*/status'):\n"
    "    try: fields = dict(l.split(':', 1) for l in status.read_text().splitlines())\n"
    "    except (OSError, ValueError): continue\n"
    "    if int(fields['Uid'].split()[0]) >= 62000: print(status.parent.name, fields['Name'])\n")
ESCAPE = """import os, socket
seen = {}
for family in (socket.AF_INET, socket.AF_INET6):
    try:
        socket.socket(family, socket.SOCK_STREAM)
        seen[str(family)] = "ok"
    except OSError as error:
        seen[str(family)] = type(error).__name__
for path in ("/autograder/source/test_cases/grading.toml",
             "/autograder/source/mnist-cache/mnist/test_labels.npy", "/root/.bashrc"):
    try:
        open(path, "rb").read(1)
        seen[path] = "read"
    except OSError as error:
        seen[path] = type(error).__name__
for path in ("/autograder/results/results.json", "/autograder/run_autograder"):
    try:
        open(path, "a").write("forged")
        seen[path] = "written"
    except OSError as error:
        seen[path] = type(error).__name__
seen["uid"] = os.getuid()
findings(**seen)"""
ATTACKS = {
    "attack-escape": hostile_prelude() + "class ReLU(ReLU):\n    def forward(self, inputs):\n"
    + "".join(f"        {line}\n" for line in ESCAPE.splitlines()),
    "attack-daemon": hostile_source("daemon_relu").replace("@TOKEN@", "nnescaped"),
    "attack-forkbomb": hostile_source("fork_bomb_relu"),
}
UNZIP = (  # as unzip does: with the permission bits of the archive
    "import os, sys, zipfile\n"
    "with zipfile.ZipFile(sys.argv[1]) as bundle:\n"
    "    for info in bundle.infolist():\n"
    "        bundle.extract(info)\n"
    "        if info.external_attr >> 16: os.chmod(info.filename, info.external_attr >> 16 & 0o777)\n")
CONTAINER_SCRIPT = r"""
set -u
LEFTOVER=$(cat /work/leftover.py)
UNZIP=$(cat /work/unzip.py)
mkdir -p /autograder/source /autograder/submission /autograder/results
cd /autograder/source && python3 -c "$UNZIP" /work/autograder.zip
start=$(date +%s.%N)
bash /autograder/source/setup.sh > /work/setup.log 2>&1 || { echo "setup failed"; cat /work/setup.log; exit 1; }
echo "setup_seconds $(python3 -c "print($(date +%s.%N) - $start)")" > /work/times
cp /autograder/source/run_autograder /autograder/run_autograder
run_uploads() {
for upload in "$1"/*; do
    name=$(basename "$upload")
    rm -rf /autograder/submission/* /autograder/results/*
    cp -r "$upload"/. /autograder/submission/
    start=$(date +%s.%N)
    /autograder/run_autograder > "/work/$name.stdout" 2>&1
    echo "${name}_seconds $(python3 -c "print($(date +%s.%N) - $start)")" >> /work/times
    cp /autograder/results/results.json "/work/$name.json"
    python3 -c "$LEFTOVER" > "/work/$name.leftover"
done
}
run_uploads /work/uploads/normal
# attacks with short limits: a fork bomb that sleeps waits for the wall-clock guard
cat /work/attack-limits.toml > /autograder/source/test_cases/grading.toml
run_uploads /work/uploads/attacks
"""
# 3 s a run: the fork bomb ends by it, the other runs need milliseconds; none of the attacks
# sleeps at import: an import limit no busy machine reaches
ATTACK_LIMITS = "[unit]\ntimeout_seconds = 3\n\n[mnist]\ntimeout_seconds = 20\n\n[box]\n" \
    "import_timeout_seconds = 60\n"


def unit_points(results: Results) -> float:
    """The points of the six unit sections (MNIST aside: the attacks run with 20 s for it)."""
    return sum(test.score for test in results.tests
               if ":" not in test.name and "MNIST" not in test.name)


@pytest.mark.docker
def test_the_autograder_runs_as_gradescope_runs_it(tmp_path):
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "image", "inspect", BASE_IMAGE],
                                        capture_output=True).returncode != 0:
        pytest.skip(f"no Docker engine or no {BASE_IMAGE} (docker/build_images.sh builds it)")
    work = tmp_path / "work"
    work.mkdir()
    started = time.monotonic()
    # real MNIST, which .ci/run's slow tests have cached: the broken Dense still learns it
    built = subprocess.run([sys.executable, "-m", "grader", "export", "gradescope", "--out",
                            str(work / "autograder.zip"), "--wheels", "--no-download"],
                           capture_output=True, text=True, timeout=1800)
    assert built.returncode == 0, built.stderr
    export_seconds = time.monotonic() - started
    uploads = work / "uploads" / "normal"
    (uploads / "reference").mkdir(parents=True)
    shutil.copyfile(REFERENCE_SOLUTION, uploads / "reference" / "solution.py")
    (uploads / "broken").mkdir()
    (uploads / "broken" / "solution.py").write_text(broken_source("dense"))
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# HW"),  # plots, as notebooks do
                      nbformat.v4.new_code_cell(REFERENCE_SOLUTION.read_text()),
                      nbformat.v4.new_code_cell(PLOTS_AND_PROGRESS)]
    (uploads / "notebook").mkdir()
    (uploads / "notebook" / "homework.ipynb").write_text(nbformat.writes(notebook))
    (uploads / "host-package").mkdir()  # installed for the grader, not a box package
    (uploads / "host-package" / "solution.py").write_text(
        "import pydantic\n" + REFERENCE_SOLUTION.read_text())
    (uploads / "image").mkdir()
    (uploads / "image" / "solution.py").write_bytes(b"\x89PNG\r\n\x1a\n not code")
    for name, source in ATTACKS.items():
        (work / "uploads" / "attacks" / name).mkdir(parents=True)
        (work / "uploads" / "attacks" / name / "solution.py").write_text(source)
    (work / "attack-limits.toml").write_text(ATTACK_LIMITS)
    (work / "leftover.py").write_text(LEFTOVER)
    (work / "unzip.py").write_text(UNZIP)
    run = subprocess.run([docker, "run", "--rm", "--network", "none", "--user", "root",
                          "-v", f"{work}:/work", BASE_IMAGE, "bash", "-c", CONTAINER_SCRIPT],
                         capture_output=True, text=True, timeout=3600)
    assert run.returncode == 0, run.stdout + run.stderr + (work / "setup.log").read_text()
    results = {name: Results.model_validate(json.loads((work / f"{name}.json").read_text()))
               for name in ("reference", "broken", "notebook", "image", "host-package")}
    assert results["reference"].score == 5.0, (work / "reference.stdout").read_text()
    assert results["notebook"].score == 5.0
    assert results["broken"].score == 4.0
    assert results["image"].score == 0.0 and "PNG image" in results["image"].output
    assert results["host-package"].score == 0.0
    sections = [test for test in results["host-package"].tests if ":" not in test.name]
    assert len(sections) == 7 and all("'pydantic' is not there" in test.output
                                      for test in sections), results["host-package"]
    board = results["reference"].leaderboard
    assert board and board[0].name == "MNIST accuracy" and board[0].value > 0.9
    assert all(test.extra_data and "execution_time" in test.extra_data
               for test in results["reference"].tests)
    hidden = [test for test in results["broken"].tests if "hidden case" in test.name]
    assert hidden and all(test.output in ("passed", "wrong_answer") for test in hidden)
    for name in ATTACKS:
        assert (work / f"{name}.leftover").read_text() == "", name  # nothing of its uid left
    escape = results["attack-escape"] = Results.model_validate(
        json.loads((work / "attack-escape.json").read_text()))
    relu = next(test for test in escape.tests if test.name.endswith("ReLU"))
    seen = json.loads(relu.output.rsplit("FINDINGS ", 1)[1].splitlines()[0])
    assert seen.pop("uid") >= 62000
    assert set(seen.values()) == {"PermissionError"}, seen  # no network, no secret, no forgery
    assert unit_points(escape) == 3.5  # the other sections keep their points
    daemon = Results.model_validate(json.loads((work / "attack-daemon.json").read_text()))
    bomb = Results.model_validate(json.loads((work / "attack-forkbomb.json").read_text()))
    assert unit_points(daemon) == 4.0 and unit_points(bomb) == 3.5
    stdout = (work / "reference.stdout").read_text()
    assert "in-container" in stdout  # the isolation in force is reported
    times = dict(line.split() for line in (work / "times").read_text().splitlines())
    print(f"\nzip {(work / 'autograder.zip').stat().st_size / 1e6:.1f} MB (export "
          f"{export_seconds:.0f} s); " + ", ".join(f"{k} {float(v):.1f}" for k, v in times.items()))
