#!/usr/bin/env bash
# Gradescope runs this once, as root, in /autograder/source, when it builds the
# autograder's image. It installs the grader into /autograder/venv (offline from
# wheels/ when the zip carries them), measures the machine for the MNIST time budget,
# and makes /autograder/source readable by root only: the hidden expected outputs and
# the MNIST test labels stay out of the submission's reach.
set -euo pipefail
cd "$(dirname "$0")"
SOURCE=$(pwd)
VENV=/autograder/venv
log() { echo "setup.sh: $*"; }
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "$@" >/dev/null 2>&1 || {
        apt-get update -q >/dev/null && apt-get install -y -q "$@" >/dev/null; }
}

wanted=""
[ -f wheels/python-version ] && wanted=$(tr -d '[:space:]' < wheels/python-version)
PYTHON=""
for candidate in ${wanted:+python$wanted} python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c \
        "import sys; v = sys.version_info; sys.exit(v < (3, 11) or ('$wanted' and '%d.%d' % v[:2] != '$wanted'))"; then
        PYTHON=$candidate; break
    fi
done
if [ -z "$PYTHON" ]; then
    version=${wanted:-3.11}
    log "no Python $version here: installing python$version"
    apt_install "python$version" "python$version-venv"
    PYTHON=python$version
fi
if ! "$PYTHON" -c "import ensurepip, venv" 2>/dev/null; then
    apt_install "$("$PYTHON" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')"
fi
log "Python: $("$PYTHON" --version)"
ldconfig -p | grep -q libseccomp.so.2 || apt_install libseccomp2

"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
if [ -d wheels ]; then PIP+=(--no-index --find-links "$SOURCE/wheels"); fi
"${PIP[@]}" -r requirements.txt
"${PIP[@]}" --no-deps --no-build-isolation -e "$SOURCE"

# bubblewrap makes the stronger box where namespaces are allowed; without it (or where
# the container refuses them, as on Gradescope) the in-container box grades.
command -v bwrap >/dev/null || apt_install bubblewrap || log "no bubblewrap: the in-container box will grade"

export GRADER_CACHE_DIR="$SOURCE/mnist-cache" GRADER_CALIBRATION_FILE="$SOURCE/calibration.json"
"$VENV/bin/grader" calibrate --cases "$SOURCE/test_cases" || log "calibration failed: the first grading measures"
chmod 0755 "$SOURCE/run_autograder" "$SOURCE/setup.sh"  # in case the unzip lost the bits
[ -f /autograder/run_autograder ] && chmod 0755 /autograder/run_autograder
chmod 0700 "$SOURCE"
chmod -R go-rwx "$SOURCE/test_cases/hidden" "$SOURCE/mnist-cache"
log "ready"
