"""Build the students' starter kit (``student_template/``) from ``reference/`` and the public cases.

The kit holds the given framework and runner unchanged (the files ``grader/shipping.py``
lists for it), ``solution.py`` with the
body of every ``# Your code here`` region replaced by ``pass`` (its comments, which are
hints, are kept), the public test
cases in ``tests/`` and a README. Regeneration is byte-identical.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from grader.given_code.syntax import BEGIN_MARKER, END_MARKER
from grader.paths import DEFAULT_CASES_DIR, REFERENCE_DIR, STUDENT_TEMPLATE_DIR

if TYPE_CHECKING:  # a grading needs only given_code(): neither numpy nor the shipping list
    from reference.common import Section

PUBLIC_CASES_DIR = DEFAULT_CASES_DIR / "public"
DEFAULT_TEMPLATE_DIR = STUDENT_TEMPLATE_DIR
EXECUTABLE_FILES = ("run.py",)

README = """\
# Обучение многослойных нейросетей (на numpy) / Multilayer neural networks (numpy)

## По-русски

Заполните в `solution.py` все фрагменты между строками `# Your code here \\/` и
`# Your code here /\\` (сейчас там стоит `pass`). Остальной код в `solution.py`, а
также файлы `interface.py`, `common.py`, `mnist_data.py`, `run.py` и папку `tests/`
не изменяйте: решения с изменённым кодом (кроме `# Your code here`) могут быть не
зачтены.

Проверка (из этой папки):

{unit_commands}
    ./run.py unittest all        # все разделы выше
    ./run.py unittest mnist      # обучение на MNIST: точность > 90%, не дольше 10 минут

Здесь только открытые тесты; проверяющая система запускает ещё и скрытые.
Для `mnist` четыре файла MNIST один раз скачиваются в папку `mnist/` рядом с `run.py`
(нужен пакет `pooch`: `pip install pooch`), или положите их туда сами, или укажите
папку с ними в переменной окружения `MNIST_DIR`.

В проверяющую систему загружайте только файл `solution.py`.

## In English

Fill in every region of `solution.py` between the lines `# Your code here \\/` and
`# Your code here /\\` (each now holds `pass`). Do not change any other code in
`solution.py`, nor `interface.py`, `common.py`, `mnist_data.py`, `run.py` or `tests/`:
solutions with changed given code may not be accepted.

Check your work from this folder with `./run.py unittest <section>`, where
`<section>` is {unit_names}, `all` (all of these)
or mnist (trains on MNIST: test accuracy above 90% within 10 minutes). Only the
public tests are here; the grading system also runs hidden ones. For mnist the four
MNIST files are downloaded once into `mnist/` next to `run.py` (this needs `pip
install pooch`); or put them there yourself, or set `MNIST_DIR` to a folder holding
them.

Upload only `solution.py` to the grading system.
"""


def readme(sections: tuple[Section, ...]) -> str:
    """The kit's README, with a command for each unit section."""
    names = [section.name for section in sections if section.kind == "unit"]
    return README.replace("{unit_commands}", "\n".join(
        f"    ./run.py unittest {name}" for name in names)).replace(
        "{unit_names}", ", ".join(names))


def stub_solution(source: str) -> str:
    """``source`` with the code strictly inside each marked region replaced by ``pass``."""
    out, inside = [], False
    for line in source.splitlines(keepends=True):
        if BEGIN_MARKER.search(line):
            if inside:
                raise ValueError(f"nested '# Your code here' marker: {line.strip()!r}")
            inside = True
            out.append(line)
            indent = re.match(r"[ \t]*", line).group()
        elif END_MARKER.search(line):
            if not inside:
                raise ValueError(f"unmatched '# Your code here' end marker: {line.strip()!r}")
            inside = False
            out.append(indent + "pass\n")
            out.append(line)
        elif not inside or line.lstrip().startswith("#"):  # comments inside are hints: kept
            out.append(line)
    if inside:
        raise ValueError("a '# Your code here' region is not closed")
    return "".join(out)


def given_code() -> str:
    """The ``solution.py`` students were given: the kit's, or the reference's with its regions
    emptied (an exported autograder ships the kit's and never the reference solution)."""
    kit = DEFAULT_TEMPLATE_DIR / "solution.py"
    if kit.is_file():
        return kit.read_text(encoding="utf-8")
    return stub_solution((REFERENCE_DIR / "solution.py").read_text(encoding="utf-8"))


def write_template(out: Path = DEFAULT_TEMPLATE_DIR) -> Path:
    """(Re)create the template directory ``out`` from scratch: the kit's files of the shipping
    list (``grader/shipping.py``), ``solution.py`` and the README; returns it."""
    from grader import shipping
    from reference import common

    out = Path(out)
    if not PUBLIC_CASES_DIR.is_dir():
        raise FileNotFoundError(f"{PUBLIC_CASES_DIR} is missing: run `grader generate` first")
    shipping.stage("kit", out)
    for name in EXECUTABLE_FILES:
        os.chmod(out / name, 0o755)
    reference = (REFERENCE_DIR / "solution.py").read_text(encoding="utf-8")
    (out / "solution.py").write_text(stub_solution(reference), encoding="utf-8", newline="")
    (out / "README.md").write_text(readme(common.load_sections(PUBLIC_CASES_DIR)),
                                   encoding="utf-8", newline="\n")
    return out
