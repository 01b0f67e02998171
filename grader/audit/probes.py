"""The probe set: many more inputs than the cases, to tell an equivalent mutant from a
survivor that a better case would kill.

For every unit section: each of its cases as ``grading.toml`` declares them, drawn ``ROUNDS``
times with fresh seeds, plus adversarial cases the declared ones do not have (ties, one sample,
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

from grader.config import CONFIG_FILE, LayerCase, LossCase, OptimizerCase
from reference import common
from reference.generate import (
    REFERENCE_DIR,
    VISIBILITIES,
    case_builder,
    declared_sections,
    section_builders,
    write_section,
    write_sections_file,
)

ROUNDS = 4
PROBE_SEED = 7_340_033
DENSE = {"weights": "he_normal", "biases": "normal"}

# cases the sections' own do not have, as grading.toml would declare them (by section name;
# a section without any is probed with its own builders only)
ADVERSARIAL: dict[str, list[LayerCase | LossCase | OptimizerCase]] = {
    "relu": [LayerCase(name="relu_single_value", description="one sample, one value",
                       inputs="normal_off_zero", shape=[1, 1]),
             LayerCase(name="relu_tiny", description="values near the margin (1e-3)",
                       inputs="normal_off_zero", shape=[6, 9], scale=1e-3),
             LayerCase(name="relu_huge", description="values near 1e6",
                       inputs="normal_off_zero", shape=[5, 4], scale=1e6)],
    "softmax": [LayerCase(name="softmax_ties", description="tied logits", inputs="tied_logits"),
                LayerCase(name="softmax_very_negative", description="every logit near -2000",
                          inputs="very_negative_logits"),
                LayerCase(name="softmax_two_classes", description="two classes", shape=[9, 2],
                          scale=2.0)],
    "dense": [LayerCase(name="dense_single_unit", description="one unit", shape=[6, 5],
                        args=[1], parameters=DENSE),
              LayerCase(name="dense_single_input", description="one input feature",
                        shape=[7, 1], args=[3], parameters=DENSE),
              LayerCase(name="dense_single_everything", description="one sample, feature and "
                        "unit", shape=[1, 1], args=[1], parameters=DENSE)],
    "crossentropy": [LossCase(name="crossentropy_uniform", description="uniform predictions",
                              inputs="uniform_predictions"),
                     LossCase(name="crossentropy_two_classes", description="two classes",
                              shape=[8, 2])],
    "sgd": [OptimizerCase(name="sgd_single_step", description="one step", kwargs={"lr": 0.3},
                          shapes=[[4]], steps=1),
            OptimizerCase(name="sgd_many_parameters", description="five parameters",
                          kwargs={"lr": 0.02}, shapes=[[3], [2, 2], [5, 1], [1], [2, 3]],
                          steps=6)],
    "momentum": [OptimizerCase(name="momentum_single_step", description="one step",
                               kwargs={"lr": 0.2, "momentum": 0.7}, shapes=[[4]], steps=1),
                 OptimizerCase(name="momentum_long", description="40 steps, momentum 0.5",
                               kwargs={"lr": 0.05, "momentum": 0.5}, shapes=[[3, 2]], steps=40)],
}


def write_probes(out: Path, config_from: Path) -> Path:
    """Write the probe set as a test case directory (with ``config_from``'s grading.toml)."""
    solution, interface = common.import_solution(REFERENCE_DIR)
    sections = declared_sections(config_from)
    for visibility in VISIBILITIES:
        for section in (section for section in sections if section.kind == "unit"):
            rng = np.random.default_rng([PROBE_SEED, zlib.crc32(section.name.encode()),
                                         zlib.crc32(visibility.encode())])
            builders = section_builders(section)[visibility] + (
                [case_builder(section, spec) for spec in ADVERSARIAL.get(section.name, [])]
                if visibility == "hidden" else [])
            cases = []
            for round_number in range(ROUNDS):
                for build in builders:
                    case, inputs = build(rng, solution, interface)
                    case = dataclasses.replace(case, name=f"{case.name}_probe{round_number}")
                    cases.append((case, inputs,
                                  common.execute_case(solution, interface, case, inputs)))
            write_section(out / visibility, common.Section.from_record(section.record()), cases)
    write_sections_file(out, sections)
    if (config_from / CONFIG_FILE).exists():
        shutil.copyfile(config_from / CONFIG_FILE, out / CONFIG_FILE)
    return out
