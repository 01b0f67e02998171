"""The class report's charts, drawn by matplotlib as inline SVG (the page works offline)."""
from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "nn-grader",
                     "font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
SVG_START = re.compile(r"<svg\b")
FIGURE_SIZE = (5.2, 3.0)


def _svg(figure: plt.Figure) -> str:
    """The figure's ``<svg>`` element alone (no XML prolog, no DOCTYPE)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[SVG_START.search(text).start():]


def score_distribution(totals: Sequence[float], max_total: float,
                       skipped: Sequence[str] = ()) -> str:
    """Totals out of ``max_total``, the points of the sections graded: a ``skipped`` section
    (``--skip-mnist``) is named on the axis, not counted as points missed."""
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    edges = [step * 0.5 - 0.25 for step in range(int(max_total * 2) + 2)]
    axes.hist(totals, bins=edges, color="#4c72b0", edgecolor="white")
    left_out = f"; {', '.join(skipped)} skipped" if skipped else ""
    axes.set(xlabel=f"total points (out of {max_total:g}{left_out})", ylabel="students",
             title="Score distribution", xlim=(-0.5, max_total + 0.5))
    axes.yaxis.get_major_locator().set_params(integer=True)
    return _svg(figure)


def pass_rates(sections: Sequence[str], rates: Sequence[float]) -> str:
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    bars = axes.barh(list(sections)[::-1], [100 * rate for rate in rates][::-1], color="#55a868")
    axes.bar_label(bars, fmt="%.0f%%", padding=2)
    axes.set(xlabel="students with full points (%)", xlim=(0, 110),
             title="Pass rate per section")
    return _svg(figure)


def accuracy_against_time(seconds: Sequence[float], accuracies: Sequence[float],
                          min_accuracy: float) -> str:
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    axes.scatter(seconds, accuracies, s=14, color="#c44e52", alpha=0.8)
    axes.axhline(min_accuracy, color="grey", linestyle="--", linewidth=1)
    axes.annotate(f"required: > {min_accuracy:.2f}", (0.01, min_accuracy), xycoords=(
        "axes fraction", "data"), textcoords="offset points", xytext=(0, 3), color="grey")
    axes.set(xlabel="training time (s)", ylabel="test accuracy",
             title="MNIST: accuracy against training time")
    return _svg(figure)


def common_failures(labels: Sequence[str], counts: Sequence[int]) -> str:
    figure, axes = plt.subplots(figsize=(FIGURE_SIZE[0], 0.4 + 0.35 * max(1, len(labels))))
    bars = axes.barh(list(labels)[::-1], list(counts)[::-1], color="#dd8452")
    axes.bar_label(bars, padding=2)
    axes.set(xlabel="students", title="Most common failure of each section")
    axes.xaxis.get_major_locator().set_params(integer=True)
    return _svg(figure)
