#!/usr/bin/env bash
# Build the grading image (default nn-grader:latest) from a fresh machine; idempotent,
# and fast when nothing changed (every step is skipped or cached by docker).
#
#   bash docker/build_images.sh                 this machine (no image registry): the base
#                                               image grader-base:bookworm is made with
#                                               debootstrap, pip installs offline from wheels
#   bash docker/build_images.sh --official      FROM python:3.11-slim, pip uses its index
#   bash docker/build_images.sh --context-only  only stage build/docker-context/ (MNIST arrays,
#                                               wheels); then: docker build -f docker/Dockerfile
#                                               -t nn-grader build/docker-context
#
# Steps: (1) `grader data` prepares MNIST in the cache ($GRADER_CACHE_DIR, else
# ~/.cache/nn-grader/mnist; $MNIST_DIR is honoured), then train.npz, test_images.npy
# are copied to
# build/docker-context-mnist/ -- never the test labels; (2) wheels of numpy and of
# the box's packages ([box] packages), pinned to this machine's versions, into
# build/docker-wheels/ (local mode); (3) the build context build/docker-context/ staged
# from the one allowlist (grader/shipping.py: wheels/ and mnist/, nothing else); (4)
# the base image (local mode, docker/build_base_image.sh); (5) the image, labelled
# with where its data files are and their SHA-256 (nn-grader.data.<role>).
# Environment: IMAGE (nn-grader:latest), BASE_IMAGE, PYTHON (python3).
# Needs a running engine for (4) and (5): bash docker/engine.sh start.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=local
CONTEXT_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --official) MODE=official ;;
        --context-only) CONTEXT_ONLY=1 ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "build_images.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
    esac
done
IMAGE=${IMAGE:-nn-grader:latest}
PYTHON=${PYTHON:-python3}
if [ "$MODE" = official ]; then BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim}; else BASE_IMAGE=${BASE_IMAGE:-grader-base:bookworm}; fi
MNIST_CONTEXT=build/docker-context-mnist
WHEELS=build/docker-wheels
CONTEXT=build/docker-context
log() { echo "build_images.sh: $*" >&2; }
t_start=$SECONDS

# ---------------------------------------------------------------- (1) MNIST
log "preparing MNIST (grader data)"
"$PYTHON" -m grader data
mkdir -p "$MNIST_CONTEXT"
"$PYTHON" - "$MNIST_CONTEXT" <<'EOF'
"""Copy the arrays the grader uses into the build context, only when they changed."""
import shutil, sys
from pathlib import Path

from grader.mnist import prepare_mnist_inputs
from grader.mnist.sources import sha256_file as sha256

target = Path(sys.argv[1])
inputs = prepare_mnist_inputs(None, 1, None, fetch=False)  # what `grader grade` will use

hashes = {}
for source, name in ((inputs.train_path, "train.npz"), (inputs.test_images_path, "test_images.npy")):
    hashes[name] = sha256(source)
    if not (target / name).is_file() or sha256(target / name) != hashes[name]:
        shutil.copyfile(source, target / name)
        print(f"build_images.sh: copied {name} ({inputs.name})", file=sys.stderr)
for name, digest in hashes.items():  # build/docker-context-mnist.<role>.sha256
    (target.parent / f"docker-context-mnist.{name.split('.')[0]}.sha256").write_text(digest)
for stray in target.iterdir():
    if stray.name not in ("train.npz", "test_images.npy"):
        stray.unlink()  # e.g. never test labels
print(f"build_images.sh: MNIST '{inputs.name}' ({inputs.train_size} + {inputs.test_size}), "
      f"test images {hashes['test_images.npy'][:16]}...", file=sys.stderr)
EOF

# ---------------------------------------------------------------- (2) wheels
mkdir -p "$WHEELS"
# numpy and what submissions may import ([box] packages of the bundled grading.toml),
# pinned to this machine's versions (pip adds what they require)
REQUIREMENTS=$("$PYTHON" -m grader box-requirements)
if [ "$MODE" = local ]; then
    stamp=$WHEELS/.requirements
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$REQUIREMENTS" ] && ls "$WHEELS"/numpy-*.whl >/dev/null 2>&1; then
        log "wheels for $REQUIREMENTS already in $WHEELS"
    else
        log "downloading wheels: $REQUIREMENTS"
        rm -f "$WHEELS"/*.whl
        # shellcheck disable=SC2086
        bash docker/wheels.sh "$WHEELS" $REQUIREMENTS
        echo "$REQUIREMENTS" >"$stamp"
    fi
fi

# ---------------------------------------------------------------- (3) build context
"$PYTHON" -m grader.shipping stage image "$CONTEXT"
if [ "$CONTEXT_ONLY" = 1 ]; then
    log "build context ready in $((SECONDS - t_start))s; now: docker build -f docker/Dockerfile -t nn-grader $CONTEXT"
    exit 0
fi

# ---------------------------------------------------------------- (4) base image
docker info >/dev/null 2>&1 || { log "no Docker engine (start one: bash docker/engine.sh start)"; exit 1; }
if [ "$MODE" = local ]; then
    bash docker/build_base_image.sh "$BASE_IMAGE"
fi

# ---------------------------------------------------------------- (5) grading image
build_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "PIP_REQUIREMENTS=$REQUIREMENTS"
            --build-arg "MNIST_TRAIN_SHA256=$(cat build/docker-context-mnist.train.sha256)"
            --build-arg "MNIST_TEST_IMAGES_SHA256=$(cat build/docker-context-mnist.test_images.sha256)")
[ "$MODE" = local ] && build_args+=(--build-arg PIP_OFFLINE=1)
# The engine here has no buildx plugin: use the classic builder then (same result).
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0
log "building $IMAGE from $BASE_IMAGE"
t_build=$SECONDS
build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
if ! docker build -f docker/Dockerfile -t "$IMAGE" "${build_args[@]}" "$CONTEXT" >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    log "docker build failed"; exit 1
fi
grep -E '^(box packages|MNIST) ' "$build_log" >&2 || true

# The image must hold no secret: a second check of what the allowlist let in.
leaks=$(docker run --rm --network none --entrypoint sh "$IMAGE" -c \
    'find / -xdev \( -name solution.py -o -name generate.py -o -name test_labels.npy \
       -o -name "*_gt" -o -name test_cases -o -name grading.toml -o -name grader \) -print \
       2>/dev/null' || true)
if [ -n "$leaks" ]; then log "the image holds files it must not:"; echo "$leaks" >&2; exit 1; fi
docker run --rm --network none "$IMAGE" /opt/nn-grader/venv/bin/python -c 'import numpy' >/dev/null

size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
log "built $IMAGE in $((SECONDS - t_build))s ($((SECONDS - t_start))s in all), size $((size / 1000000)) MB"
