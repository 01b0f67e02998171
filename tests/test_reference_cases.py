"""The reference solution and the stored test cases agree; the cases catch typical mistakes.

Every solution variant is imported from its own directory under the module names
``solution`` and ``interface`` (as the students' runner does); the modules are
removed from ``sys.modules`` again afterwards so that variants never mix.
"""
from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.audit.variants import accepted_variants
from grader.config import load_config
from reference import common, generate
from tests.support.solution_imports import isolated_imports

REPO_DIR = Path(__file__).resolve().parent.parent
REFERENCE_DIR = REPO_DIR / "reference"
CASES_DIR = REPO_DIR / "test_cases"
VISIBILITIES = ("public", "hidden")
COURSE_STYLE_SOLUTION = Path(__file__).resolve().parent / "submissions" / "course_style_solution.py"
UNIT_NAMES = [section.name for section in common.UNIT_SECTIONS]


@contextlib.contextmanager
def imported(directory: Path):
    """``(solution, interface)`` imported from ``directory``."""
    with isolated_imports():
        yield common.import_solution(directory)


def solution_dir(tmp_path: Path, source: str) -> Path:
    """A directory holding ``source`` as solution.py next to the reference interface.py."""
    directory = tmp_path / "submission"
    directory.mkdir()
    shutil.copyfile(REFERENCE_DIR / "interface.py", directory / "interface.py")
    (directory / "solution.py").write_text(source, encoding="utf-8")
    return directory


def broken_reference(tmp_path: Path, old: str, new: str) -> Path:
    source = (REFERENCE_DIR / "solution.py").read_text(encoding="utf-8")
    assert source.count(old) == 1, f"the line to break is not (once) in the reference: {old!r}"
    return solution_dir(tmp_path, source.replace(old, new))


def failures_by_section(directory: Path) -> dict[str, list[str]]:
    """Section name -> failure texts over the public and the hidden cases."""
    with imported(directory) as (solution, interface):
        return {section.name: [failure for visibility in VISIBILITIES
                               for failure in common.check_section(
                                   solution, interface, CASES_DIR / visibility, section)]
                for section in common.UNIT_SECTIONS}


def assert_fails_only(failures: dict[str, list[str]], broken: str) -> str:
    assert failures[broken], f"section {broken} should fail but passes"
    others = {name: texts for name, texts in failures.items() if name != broken and texts}
    assert not others, f"only {broken} should fail, but also: {others}"
    return "\n".join(failures[broken])


# ------------------------------------------------------------ reference cases
@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("section", common.UNIT_SECTIONS, ids=UNIT_NAMES)
def test_reference_solution_passes_every_stored_case(section, visibility):
    with imported(REFERENCE_DIR) as (solution, interface):
        assert common.load_cases(CASES_DIR / visibility, section)
        assert common.check_section(solution, interface, CASES_DIR / visibility, section) == []


def test_committed_cases_equal_a_fresh_generation(tmp_path):
    with isolated_imports():
        generate.write_cases(tmp_path, generate.DEFAULT_SEED)
    assert generate.disagreements(CASES_DIR, tmp_path) == [], "regenerate: `grader generate`"


@pytest.mark.parametrize("cpu", [
    pytest.param({"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
                  "OPENBLAS_CORETYPE": "Haswell"}, id="avx2_without_avx512"),
    pytest.param({"NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
                  "OPENBLAS_CORETYPE": "Nehalem"}, id="sse4_only"),
])
@pytest.mark.may_skip("x86 instruction sets")
def test_other_cpus_reproduce_the_inputs_to_the_byte_and_the_outputs_closely(tmp_path, cpu):
    """numpy and OpenBLAS told to use fewer instructions, as on a CPU without AVX-512 or
    AVX2: the last bits of exp and log change, nothing else."""
    if platform.machine() != "x86_64":
        pytest.skip("x86 instruction sets")
    subprocess.run([sys.executable, "-m", "reference.generate", "--out", str(tmp_path)],
                   check=True, cwd=REPO_DIR, env={**os.environ, **cpu}, capture_output=True)
    assert generate.disagreements(CASES_DIR, tmp_path) == []


def test_generate_leaves_cases_that_agree_untouched(tmp_path):
    shutil.copytree(CASES_DIR, tmp_path / "cases")
    target = tmp_path / "cases" / "hidden" / "01_unittest_softmax_gt" / "softmax_wide.npz"
    with np.load(target) as arrays:
        nudged = {key: arrays[key] * (1 + 1e-15) for key in arrays.files}
    common.save_npz(target, nudged)  # a last-bit difference, as another CPU would give
    before = target.read_bytes()
    with isolated_imports():
        assert generate.generate(tmp_path / "cases") == []
    assert target.read_bytes() == before
    common.save_npz(target, {key: value * 1.001 for key, value in nudged.items()})
    with isolated_imports():
        changed = generate.generate(tmp_path / "cases")
    assert changed == ["hidden/01_unittest_softmax_gt/softmax_wide.npz: expected outputs differ"]
    assert generate.disagreements(CASES_DIR, tmp_path / "cases") == []


def test_generate_rewrites_only_the_files_that_differ(tmp_path):
    shutil.copytree(CASES_DIR, tmp_path / "cases")
    untouched = tmp_path / "cases" / "public" / "02_unittest_dense_gt" / "dense_small.npz"
    with np.load(untouched) as arrays:  # last bits another CPU's BLAS might give
        common.save_npz(untouched, {key: arrays[key] * (1 + 1e-15) for key in arrays.files})
    before = untouched.read_bytes()
    changed = tmp_path / "cases" / "hidden" / "04_unittest_sgd_input" / "sgd_large_lr.npz"
    changed.write_bytes(b"")
    with isolated_imports():
        assert generate.generate(tmp_path / "cases") == [
            "hidden/04_unittest_sgd_input/sgd_large_lr.npz: inputs differ"]
    assert untouched.read_bytes() == before
    assert changed.read_bytes() == (CASES_DIR / changed.relative_to(tmp_path / "cases")).read_bytes()


def _every_case():
    for visibility in VISIBILITIES:
        for section in common.UNIT_SECTIONS:
            for case in common.load_cases(CASES_DIR / visibility, section):
                yield case, common.load_expected(CASES_DIR / visibility, section, case)


def test_no_case_accepts_zeros_for_any_quantity():
    """np.empty placeholders often hold zeros: a quantity whose expected values are all within
    the case's tolerance of 0 cannot tell a right answer from none."""
    for case, expected in _every_case():
        for name, value in expected.items():
            assert not np.allclose(0.0, value, rtol=case.rtol, atol=case.atol), \
                f"{case.name}: `{name}` is within tolerance of zeros"


def test_the_tolerance_policy_is_the_one_the_readme_states():
    """rtol=1e-5 and atol=1e-6 everywhere but the one case whose own description says its
    wider rtol (README, "Tolerance policy")."""
    wider = {case.name: case.rtol for case, _ in _every_case() if case.rtol != common.RTOL}
    assert wider == {"crossentropy_confidently_wrong": 2e-3}
    assert all(case.atol == common.ATOL for case, _ in _every_case())
    assert all(f"rtol {case.rtol:g}" in case.description
               for case, _ in _every_case() if case.name in wider)


@pytest.mark.parametrize("variant", accepted_variants(load_config(CASES_DIR).tolerance.max_epsilon),
                         ids=lambda variant: variant.name)
def test_every_accepted_variant_passes_every_case(tmp_path, variant):
    """The tolerance policy, in seconds (``grader audit`` grades the same through the box)."""
    source = (REFERENCE_DIR / "solution.py").read_text(encoding="utf-8")
    failures = failures_by_section(solution_dir(tmp_path, variant.source(source)))
    assert failures == {name: [] for name in UNIT_NAMES}, variant.explanation


# ------------------------------------------------------------ broken variants
BROKEN_VARIANTS = {
    "relu_backward_returns_grad_unchanged": (
        "relu", "return grad_outputs * (inputs > 0)", "return grad_outputs"),
    "softmax_forward_without_max_subtraction": (
        "softmax", "exps = np.exp(inputs - inputs.max(axis=1, keepdims=True))",
        "exps = np.exp(inputs)"),
    "dense_weights_gradient_not_averaged": (
        "dense", "self.weights_grad = inputs.T @ grad_outputs / batch_size",
        "self.weights_grad = inputs.T @ grad_outputs"),
    "crossentropy_without_minus_sign": (
        "crossentropy", "return -np.sum(y_gt * np.log(safe_pred), axis=1)",
        "return np.sum(y_gt * np.log(safe_pred), axis=1)"),
    "sgd_adds_the_gradient": (
        "sgd", "return parameter - self._lr * parameter_grad",
        "return parameter + self._lr * parameter_grad"),
    "momentum_with_the_wrong_sign": (
        "momentum", "return parameter - updater.inertia", "return parameter + updater.inertia"),
}


@pytest.mark.parametrize("scenario", sorted(BROKEN_VARIANTS))
def test_broken_variant_fails_only_its_own_section(tmp_path, scenario):
    section, old, new = BROKEN_VARIANTS[scenario]
    text = assert_fails_only(failures_by_section(broken_reference(tmp_path, old, new)), section)
    assert "Traceback" not in text


def test_dense_gradient_not_averaged_fails_only_dense_on_weights_grad(tmp_path):
    section, old, new = BROKEN_VARIANTS["dense_weights_gradient_not_averaged"]
    text = assert_fails_only(failures_by_section(broken_reference(tmp_path, old, new)), "dense")
    assert "`weights_grad`" in text and "values differ" in text
    assert "`biases_grad`" not in text and "`grad_inputs`" not in text


def test_softmax_without_max_subtraction_fails_only_softmax_explaining_why(tmp_path):
    section, old, new = BROKEN_VARIANTS["softmax_forward_without_max_subtraction"]
    text = assert_fails_only(failures_by_section(broken_reference(tmp_path, old, new)), "softmax")
    assert "FloatingPointError" in text
    assert "floating-point error" in text and "each row's own maximum" in text
    assert "softmax_far_apart_rows" in text


def test_relu_derivative_at_zero_convention_is_accepted(tmp_path):
    directory = broken_reference(tmp_path, "return grad_outputs * (inputs > 0)",
                                 "return grad_outputs * (inputs >= 0)")
    assert failures_by_section(directory) == {name: [] for name in UNIT_NAMES}


def test_crossentropy_gradient_without_minus_sign_fails_only_crossentropy(tmp_path):
    directory = broken_reference(tmp_path, "return -y_gt / np.maximum(",
                                 "return y_gt / np.maximum(")
    text = assert_fails_only(failures_by_section(directory), "crossentropy")
    assert "`gradient`" in text and "`loss`" not in text


def test_backward_writing_into_forward_outputs_fails_only_softmax(tmp_path):
    directory = broken_reference(
        tmp_path, "return outputs * (grad_outputs - weighted)",
        "outputs *= grad_outputs - weighted\n        return outputs")
    text = assert_fails_only(failures_by_section(directory), "softmax")
    assert "read-only" in text


def test_syntax_error_in_solution_is_reported_with_the_students_line(tmp_path):
    directory = broken_reference(tmp_path, "return np.maximum(inputs, 0.0)",
                                 "return np.maximum(inputs, 0.0")
    with isolated_imports(), pytest.raises(SyntaxError) as error:
        common.import_solution(directory)
    text = common.student_traceback(error.value)
    assert "solution.py" in text and "SyntaxError" in text


# --------------------------------------------------------- course compatibility
def test_course_style_solution_passes_all_six_sections(tmp_path):
    directory = solution_dir(tmp_path, COURSE_STYLE_SOLUTION.read_text(encoding="utf-8"))
    assert failures_by_section(directory) == {name: [] for name in UNIT_NAMES}


def test_course_style_solution_keeps_the_given_code():
    from grader.given_code.check import check_modifications

    assert check_modifications(COURSE_STYLE_SOLUTION.read_text(encoding="utf-8"), (
        REFERENCE_DIR / "solution.py").read_text(encoding="utf-8")).warnings() == []


def _blobs(rng, n_per_class, centers):
    x = np.concatenate([rng.normal(center, 0.5, (n_per_class, 2)) for center in centers])
    labels = np.repeat(np.arange(len(centers)), n_per_class)
    return x, np.eye(len(centers))[labels]


def test_model_of_reference_layers_trains_and_evaluates_on_even_batches():
    rng = np.random.default_rng(0)
    centers = [(-3.0, 0.0), (3.0, 0.0), (0.0, 3.0)]
    x_train, y_train = _blobs(rng, 64, centers)  # 192 samples
    x_valid, y_valid = _blobs(rng, 32, centers)  # 96 = 6 batches of 16: no remainder
    with imported(REFERENCE_DIR) as (solution, interface):
        np.random.seed(0)
        model = interface.Model(solution.CategoricalCrossentropy(),
                                solution.SGDMomentum(lr=0.05, momentum=0.9))
        model.add(solution.Dense(16, input_shape=(2,)))
        model.add(solution.ReLU())
        model.add(solution.Dense(3))
        model.add(solution.Softmax())
        model.fit(x_train, y_train, batch_size=16, epochs=10, verbose=False,
                  x_valid=x_valid, y_valid=y_valid)
        assert len(model.loss_train_history) == 10 == len(model.accuracy_valid_history)
        assert model.loss_train_history[-1] < model.loss_train_history[0]

        batch_sizes = []
        forward = model.forward

        def recording_forward(x):
            batch_sizes.append(x.shape[0])
            return forward(x)

        model.forward = recording_forward
        loss, accuracy = model.evaluate(x_valid, y_valid, batch_size=16)
        assert batch_sizes == [16] * 6  # never an empty last batch
        assert np.isfinite(loss) and loss < 0.5
        assert accuracy > 0.9
        assert model.accuracy_valid_history[-1] == pytest.approx(accuracy)

        batch_sizes.clear()
        loss_odd, accuracy_odd = model.evaluate(x_valid, y_valid, batch_size=40)
        assert batch_sizes == [40, 40, 16]
        assert (loss_odd, accuracy_odd) == pytest.approx((loss, accuracy))


def test_forward_inputs_and_outputs_are_read_only_after_a_call():
    with imported(REFERENCE_DIR) as (solution, interface):
        layer = solution.ReLU(input_shape=(3,))
        layer.build(solution.SGD(lr=0.1))
        outputs = layer(np.array([[1.0, -2.0, 3.0]]))
        assert outputs is layer.forward_outputs
        for array in (layer.forward_inputs, layer.forward_outputs):
            assert not array.flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                array[0, 0] = 5.0
