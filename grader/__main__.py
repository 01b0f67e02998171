"""``grader`` and ``python -m grader``: the command-line interface, after ``grader grade`` has
started its unit box (``grader.early_box``: the box boots while the interface loads)."""
import gc
import os
import sys

HOST_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main() -> None:
    for variable in HOST_BLAS_THREADS:  # the grader only compares arrays: spinning BLAS
        os.environ.setdefault(variable, "1")  # threads would take the CPU its boxes need
    from grader import early_box

    early_box.start(sys.argv[1:])
    from grader.cli import app

    try:
        app(prog_name="grader")
    finally:
        gc.freeze()  # the process ends: a last collection would only walk what dies with it


if __name__ == "__main__":
    main()
