"""Inside the box, the MNIST run's code (``RunSpec.entry`` of the MNIST section): train on
the course's preprocessed MNIST (the data files ``train`` and ``test_images``, mounted
read-only) and predict the test images; their labels never enter the box. Shipped into the
box with the runtime: standard library only here (numpy and the framework come with the
``ChildRun``, the course's preprocessing is ``mnist_data``, shipped beside it)."""
from __future__ import annotations

import importlib
import time

ENTRY = "grader.sections.mnist_child:train_and_predict"
CASE = "mnist"                 # the one case of the run
PREDICTIONS = "predicted"      # the array of its payload
TRAIN_SECONDS = "train_seconds"  # a figure of its frame: train_mnist_model alone


def train_and_predict(run) -> None:
    """``run``: the supervisor's ``ChildRun`` (``grader.boxes.supervisor``)."""
    numpy = run.numpy
    mnist_data = importlib.import_module("mnist_data")
    with numpy.load(run.data["train"], allow_pickle=False) as train:
        x_train, y_train = train["x"], train["y"]
    x_test = numpy.load(run.data["test_images"], allow_pickle=False)
    sets = mnist_data.preprocess_course(x_train, y_train, x_test)
    started = time.perf_counter()
    try:
        model = run.solution.train_mnist_model(sets.x_train, sets.y_train, sets.x_valid,
                                               sets.y_valid)
        train_seconds = round(time.perf_counter() - started, 3)
        if not isinstance(model, run.interface.Model):
            raise TypeError(f"train_mnist_model must return a Model, got {type(model).__name__}")
        predicted = run.common.predict_classes(model, sets.x_test)
    except BaseException as error:  # noqa: BLE001 - the student's code failed: a verdict
        run.raised(CASE, error, time.perf_counter() - started)
        return
    run.ran(CASE, {PREDICTIONS: predicted}, time.perf_counter() - started,
            figures={TRAIN_SECONDS: train_seconds})
