#!/usr/bin/env bash
# Build the course site's image (default nn-grader-serve:latest) from a fresh machine, with no
# image registry: the base image made by docker/build_base_image.sh, pip offline from wheels.
#
#   bash docker/serve/build.sh
#
# Steps: (1) wheels of the grader's dependencies (pyproject.toml) and of what builds it, for
# the base image's interpreter, into build/serve-wheels/; (2) the build context staged from
# the one allowlist (python -m grader.shipping stage site build/serve-context: the grader,
# the framework, every case; never the reference solution); (3) the base image; (4) the
# image; (5) a check that no secret reached it.
# Environment: IMAGE (nn-grader-serve:latest), BASE_IMAGE (grader-base:bookworm), PYTHON.
# Needs a running engine: bash docker/engine.sh start.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=${IMAGE:-nn-grader-serve:latest}
BASE_IMAGE=${BASE_IMAGE:-grader-base:bookworm}
PYTHON=${PYTHON:-python3}
WHEELS=build/serve-wheels
CONTEXT=build/serve-context
log() { echo "serve/build.sh: $*" >&2; }
t_start=$SECONDS

# ---------------------------------------------------------------- (1) wheels
REQUIREMENTS=$("$PYTHON" -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))')
REQUIREMENTS="$REQUIREMENTS setuptools>=64 wheel"
stamp=$WHEELS/.requirements
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$REQUIREMENTS" ]; then
    log "wheels already in $WHEELS"
else
    rm -rf "$WHEELS"
    # shellcheck disable=SC2086
    bash docker/wheels.sh "$WHEELS" $REQUIREMENTS
    echo "$REQUIREMENTS" >"$stamp"
fi

# ---------------------------------------------------------------- (2) the context
"$PYTHON" -m grader.shipping stage site "$CONTEXT" >/dev/null

# ---------------------------------------------------------------- (3, 4) the images
docker info >/dev/null 2>&1 || { log "no Docker engine (start one: bash docker/engine.sh start)"; exit 1; }
[ "$BASE_IMAGE" = grader-base:bookworm ] && bash docker/build_base_image.sh "$BASE_IMAGE"
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0
build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
if ! docker build -f docker/serve/Dockerfile -t "$IMAGE" --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        "$CONTEXT" >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    log "docker build failed"; exit 1
fi

# ---------------------------------------------------------------- (5) no secret inside
leaks=$(docker run --rm --network none --entrypoint sh "$IMAGE" -c \
    'find / -xdev \( -path /proc -prune \) -o \( -name solution.py -path "*reference*" \
       -o -name generate.py -o -name test_labels.npy \) -print 2>/dev/null' || true)
if [ -n "$leaks" ]; then log "the image holds files it must not:"; echo "$leaks" >&2; exit 1; fi
log "built $IMAGE in $((SECONDS - t_start))s"
