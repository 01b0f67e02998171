"""The audit in the terminal: false fails first, a table per section, then the survivors
as diffs with their reason and the probe input that kills each."""
from __future__ import annotations

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from grader.audit.report import AuditReport


def render(report: AuditReport, console: Console, verbose: bool = False) -> None:
    for variant in report.false_fails:
        console.print(Text.assemble(("FALSE FAIL", "bold red"), f": accepted variant "
                                    f"{variant.name} ({variant.explanation}) fails: ",
                                    "; ".join(variant.failures)), soft_wrap=True)
    for variant in report.probe_problems:
        console.print(Text(f"note: the probe set fails accepted variant {variant.name}: "
                           f"{'; '.join(variant.failures)} (equivalence verdicts may be wrong)",
                           style="yellow"), soft_wrap=True)
    table = Table(title=Text(f"Mutation audit of {report.cases}"))
    for column in ("Section", "Mutants", "Killed", "Survived", "Equivalent", "Score",
                   "False fails", "Result"):
        table.add_column(column, justify="left" if column == "Section" else "right")
    for section in report.sections:
        score = "n/a" if section.score is None else f"{section.score:.0%}"
        table.add_row(section.section, str(section.mutants), str(section.killed),
                      str(section.survived), str(section.equivalent), score,
                      str(section.false_fails),
                      Text("ok" if section.passed else "FAIL",
                           style="green" if section.passed else "bold red"))
    console.print(table)
    variants = Table(title=Text("Accepted variants (the tolerance policy): each must pass"))
    for column in ("Variant", "Section", "Written as", "Result"):
        variants.add_column(column)
    for variant in report.variants:
        variants.add_row(variant.name, variant.section, variant.explanation,
                         Text("passed", style="green") if variant.passed
                         else Text("FALSE FAIL", style="bold red"))
    console.print(variants)
    for mutant in report.survivors:
        console.print(Text.assemble(("survived ", "bold yellow"), f"{mutant.id} "
                                    f"({mutant.operator}): {mutant.explanation}; killed on the "
                                    f"probe set by {mutant.probe}"), soft_wrap=True)
        console.print(Syntax(mutant.diff, "diff", theme="ansi_dark"))
    shown = [m for m in report.mutants if m.status == "equivalent"] if verbose else []
    for mutant in shown:
        console.print(Text(f"equivalent {mutant.id}: {mutant.explanation}"), soft_wrap=True)
    verdict = "passed" if report.passed else "FAILED"
    console.print(Text(f"audit {verdict}: every section's score at least "
                       f"{report.min_score:.0%} and no false fail required; "
                       f"{len(report.mutants)} mutants, {len(report.variants)} accepted variants, "
                       f"{report.seconds:.1f} s"), soft_wrap=True)
