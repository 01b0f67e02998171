"""``grader`` and ``python -m grader``: the command-line interface, after ``grader grade`` has
started its unit box (``grader.boxes.early_start``: the box boots while the interface loads)."""
import gc
import os
import sys
import threading
from typing import NoReturn

HOST_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
BOX_THREADS_WAIT = 0.001  # the threads that feed and read a box wait this long for their turn
LOADING_SECONDS = 2.0  # a unit grading is over by then; a longer one (MNIST) collects again


def end_grading(code: object) -> NoReturn:
    """End ``grader grade`` at once: its reports are written and closed, its boxes are gone,
    and tearing the interpreter down would only free memory (a tenth of the command)."""
    from grader.boxes import early_start as early_box

    early_box.discard_unclaimed()
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


def collect_again() -> None:
    """The collector back on, for what the grading makes from now on (not what it loaded)."""
    gc.freeze()
    gc.enable()


def main() -> None:
    grading = sys.argv[1:2] == ["grade"]
    if grading:  # its imports make some 70,000 objects that live as long as the command:
        gc.disable()  # collecting them as they come costs about 17 ms, 7% of a unit grading
        sys.setswitchinterval(BOX_THREADS_WAIT)
    for variable in HOST_BLAS_THREADS:  # the grader only compares arrays: spinning BLAS
        os.environ.setdefault(variable, "1")  # threads would take the CPU its boxes need
    from grader.boxes import early_start as early_box

    early_box.start(sys.argv[1:])  # first: it may fork, which is safe before any thread
    if grading:
        collector = threading.Timer(LOADING_SECONDS, collect_again)
        collector.daemon = True  # a command that ends sooner does not wait for it
        collector.start()
    from grader.cli import for_verb

    try:
        for_verb(sys.argv[1:])(prog_name="grader")
    except SystemExit as end:
        if grading:
            end_grading(end.code)
        raise
    finally:
        gc.freeze()  # the process ends: a last collection would only walk what dies with it


if __name__ == "__main__":
    main()
