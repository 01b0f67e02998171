#!/usr/bin/env bash
# Download wheels for the grading image: docker/wheels.sh DEST_DIR REQUIREMENT...
#   e.g. docker/wheels.sh build/wheels numpy pydantic tqdm rich typer
#   (anything pip accepts works, e.g. 'numpy==1.26.4' or -r requirements.txt)
# Why: pip inside a container cannot verify this network's TLS certificates,
# so wheels are fetched on the host (whose pip is configured for it) and
# copied into the build context, then installed there with --no-index.
# Targets the base image's interpreter (CPython 3.11, glibc 2.36 = bookworm),
# not the host's, so only binary wheels for that target are accepted.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 DEST_DIR REQUIREMENT..." >&2; exit 2; }
dest=$1; shift
PY_VERSION=${WHEELS_PY_VERSION:-3.11}
ARCH=${WHEELS_ARCH:-$(uname -m)}
GLIBC_MINOR=${WHEELS_GLIBC_MINOR:-36}   # bookworm's glibc is 2.36
# pip (23.x) matches --platform tags exactly, so list every manylinux tag a
# glibc-2.36 system accepts, newest first; legacy aliases are expanded by pip.
platforms=()
for y in $(seq "$GLIBC_MINOR" -1 5); do platforms+=(--platform "manylinux_2_${y}_$ARCH"); done
PIP=${WHEELS_PIP:-python3 -m pip}

mkdir -p "$dest"
t0=$SECONDS
# Files already in $dest are reused (pip says "File was already downloaded").
$PIP download --quiet --dest "$dest" --only-binary=:all: \
    --implementation cp --python-version "$PY_VERSION" \
    --abi "cp${PY_VERSION/./}" "${platforms[@]}" "$@"
echo "wheels.sh: $(ls "$dest"/*.whl | wc -l) wheels in $dest after $((SECONDS - t0))s" >&2
