"""The probe set: many more inputs than the cases, to tell an equivalent mutant from a
survivor that a better case would kill.

For every unit section: each of the generator's case builders drawn ``ROUNDS`` times
with fresh seeds, plus adversarial builders the cases do not have (ties, one sample,
one unit, extreme scales, a single step). Expected outputs come from the reference,
through the same ``common.execute_case`` as the cases. Inputs stay where the
assignment leaves a choice open (ReLU inputs off zero, probabilities of one-hot
labels): every accepted variant must pass the probe set, or it is not a fair judge.
"""
from __future__ import annotations

import dataclasses
import shutil
import zlib
from pathlib import Path

import numpy as np

from grader.config import CONFIG_FILE
from reference import common
from reference.generate import (
    CASES,
    REFERENCE_DIR,
    VISIBILITIES,
    Builder,
    _one_hot,
    crossentropy_case,
    dense_case,
    optimizer_case,
    relu_case,
    softmax_case,
    write_section,
)

ROUNDS = 4
PROBE_SEED = 7_340_033


def _tied_logits(rng: np.random.Generator) -> np.ndarray:
    """Rows with equal logits (uniform outputs) and rows with two tied maxima."""
    rows = np.zeros((4, 7))
    rows[2:, :2] = 5.0
    return rows + np.array([[0.0], [-3.0], [1.0], [-2.0]])


def _very_negative_logits(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(-2000.0, 1.0, (3, 5))


def _uniform_predictions(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return _one_hot(rng, 5, 4), np.full((5, 4), 0.25)


ADVERSARIAL: dict[str, list[Builder]] = {
    "relu": [relu_case("relu_single_value", "one sample, one value", (1, 1)),
             relu_case("relu_tiny", "values near the margin (1e-3)", (6, 9), scale=1e-3),
             relu_case("relu_huge", "values near 1e6", (5, 4), scale=1e6)],
    "softmax": [softmax_case("softmax_ties", "tied logits", 0, 0, _tied_logits),
                softmax_case("softmax_very_negative", "every logit near -2000", 0, 0,
                             _very_negative_logits),
                softmax_case("softmax_two_classes", "two classes", 9, 2)],
    "dense": [dense_case("dense_single_unit", "one unit", 6, 5, 1),
              dense_case("dense_single_input", "one input feature", 7, 1, 3),
              dense_case("dense_single_everything", "one sample, feature and unit", 1, 1, 1)],
    "crossentropy": [crossentropy_case("crossentropy_uniform", "uniform predictions", 0, 0,
                                       _uniform_predictions),
                     crossentropy_case("crossentropy_two_classes", "two classes", 8, 2)],
    "sgd": [optimizer_case("sgd_single_step", "sgd", "one step", "SGD", {"lr": 0.3},
                           [(4,)], 1),
            optimizer_case("sgd_many_parameters", "sgd", "five parameters", "SGD", {"lr": 0.02},
                           [(3,), (2, 2), (5, 1), (1,), (2, 3)], 6)],
    "momentum": [optimizer_case("momentum_single_step", "momentum", "one step", "SGDMomentum",
                                {"lr": 0.2, "momentum": 0.7}, [(4,)], 1),
                 optimizer_case("momentum_long", "momentum", "40 steps, momentum 0.5",
                                "SGDMomentum", {"lr": 0.05, "momentum": 0.5}, [(3, 2)], 40)],
}


def write_probes(out: Path, config_from: Path) -> Path:
    """Write the probe set as a test case directory (with ``config_from``'s grading.toml)."""
    solution, interface = common.import_solution(REFERENCE_DIR)
    for visibility in VISIBILITIES:
        for section in common.UNIT_SECTIONS:
            rng = np.random.default_rng([PROBE_SEED, zlib.crc32(section.name.encode()),
                                         zlib.crc32(visibility.encode())])
            builders = CASES[section.name][visibility] + (
                ADVERSARIAL[section.name] if visibility == "hidden" else [])
            cases = []
            for round_number in range(ROUNDS):
                for build in builders:
                    case, inputs = build(rng)
                    case = dataclasses.replace(case, name=f"{case.name}_probe{round_number}")
                    cases.append((case, inputs,
                                  common.execute_case(solution, interface, case, inputs)))
            write_section(out / visibility, section, cases)
    if (config_from / CONFIG_FILE).exists():
        shutil.copyfile(config_from / CONFIG_FILE, out / CONFIG_FILE)
    return out
