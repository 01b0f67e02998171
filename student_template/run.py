#!/usr/bin/env python3
"""Local tests of the assignment: the same cases and checks as the grading system.

Usage:  ./run.py unittest <section>|all   (without arguments: the list of sections)
("all" runs every unit section; mnist trains on MNIST: run it separately.)
"""
import sys
import time
from pathlib import Path

import common

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "tests"
MIN_ACCURACY = 0.90  # the final test accuracy must be strictly greater
TIME_LIMIT_SECONDS = 600  # training plus prediction


def usage(sections):
    return ("usage: ./run.py unittest <section>\n"
            f"  <section>: {', '.join(s.name for s in sections)} or all "
            "(all = every unit section)")


def indent(text, prefix="    "):
    return "\n".join(prefix + line for line in text.splitlines())


def run_unit(solution, interface, section):
    try:
        total = len(common.load_cases(CASES_DIR, section))
        failures = common.check_section(solution, interface, CASES_DIR, section)
    except common.CaseFileError as error:
        print(f"{section.title}: ERROR: {error}\n    (put the tests/ folder next to run.py)")
        return False
    if not failures:
        print(f"{section.title}: PASSED ({total} of {total} cases)")
        return True
    print(f"{section.title}: FAILED ({len(failures)} of {total} cases failed)")
    for failure in failures:
        print(indent(failure))
    return False


def run_mnist(solution, interface, section):
    import mnist_data

    try:
        data = mnist_data.load_mnist()
    except mnist_data.MnistError as error:
        print(f"{section.title}: ERROR: {error}")
        return False
    sets = mnist_data.preprocess_course(data.x_train, data.y_train, data.x_test)
    print(f"Dataset: {data.name} ({data.source}): {sets.x_train.shape[0]} training, "
          f"{sets.x_valid.shape[0]} validation, {sets.x_test.shape[0]} test images", flush=True)
    started = time.perf_counter()
    try:
        model = solution.train_mnist_model(sets.x_train, sets.y_train, sets.x_valid, sets.y_valid)
        if not isinstance(model, interface.Model):
            raise TypeError(f"train_mnist_model must return a Model, got {type(model).__name__}")
        predicted = common.predict_classes(model, sets.x_test)
        elapsed = time.perf_counter() - started
        accuracy = common.check_mnist_accuracy(predicted, data.y_test)
    except Exception as error:  # the student's code raised
        print(f"{section.title}: FAILED: train_mnist_model raised an exception:")
        print(indent(common.student_traceback(error)))
        return False
    print(f"Final test accuracy: {accuracy:.4f}")
    print(f"Time (training and prediction): {elapsed:.1f} s")
    problems = []
    if not accuracy > MIN_ACCURACY:
        problems.append(f"accuracy {accuracy:.4f} is not above {MIN_ACCURACY:.2f}")
    if elapsed > TIME_LIMIT_SECONDS:
        problems.append(f"took {elapsed:.0f} s, more than {TIME_LIMIT_SECONDS} s")
    if problems:
        print(f"{section.title}: FAILED ({'; '.join(problems)})")
        return False
    print(f"{section.title}: PASSED")
    return True


def main(argv):
    try:
        known = {section.name: section for section in common.load_sections(CASES_DIR)}
    except common.CaseFileError as error:
        print(f"ERROR: {error}\n    (put the tests/ folder next to run.py)")
        return 1
    if len(argv) != 2 or argv[0] != "unittest" or (argv[1] != "all" and argv[1] not in known):
        print(usage(known.values()), file=sys.stderr)
        return 2
    sections = [section for section in known.values() if section.kind == "unit"] \
        if argv[1] == "all" else [known[argv[1]]]
    try:
        solution, interface = common.import_solution(HERE)
    except (Exception, SystemExit) as error:  # syntax errors, exceptions, exit() at import
        print("FAILED: solution.py could not be imported:")
        print(indent(common.student_traceback(error)))
        return 1
    results = [(run_mnist if section.kind == "mnist" else run_unit)(solution, interface, section)
               for section in sections]
    if len(sections) > 1:
        print(f"{sum(results)} of {len(sections)} sections passed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
