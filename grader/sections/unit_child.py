"""Inside the box, a unit run's code (``RunSpec.entry`` of the unit sections): every case of
one section and visibility through the course framework's own runner, each case's outputs as
arrays, or the exception it raised. Shipped into the box with the runtime: standard library
only here (numpy and the framework come with the ``ChildRun``)."""
from __future__ import annotations

import json
import time

ENTRY = "grader.sections.unit_child:run_cases"


def run_cases(run) -> None:
    """``run``: the supervisor's ``ChildRun`` (``grader.boxes.supervisor``)."""
    common, numpy = run.common, run.numpy
    records = json.loads(run.input_file(common.CASES_FILE))["cases"]
    for case in (common.Case(**record) for record in records):
        arrays = run.input_arrays(f"{case.name}.npz")
        started = time.perf_counter()
        try:
            outputs = common.execute_case(run.solution, run.interface, case, arrays)
        except BaseException as error:  # noqa: BLE001 - the student's code failed: a verdict
            run.raised(case.name, error, time.perf_counter() - started)
            continue
        seconds = time.perf_counter() - started
        results = {name: value for name, value in outputs.items()
                   if isinstance(value, numpy.ndarray) and value.dtype.kind in "biuf"}
        not_arrays = {name: common.describe_value(value) for name, value in outputs.items()
                      if name not in results}
        results.update({name: numpy.asarray(value, dtype=numpy.float64)  # for the diagnosis
                        for name, value in outputs.items() if name in not_arrays and
                        isinstance(value, (numpy.number, int, float)) and
                        not isinstance(value, bool)})
        run.ran(case.name, results, seconds, not_arrays=not_arrays)
