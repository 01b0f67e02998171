"""Where the repository's parts are, computed once: the grader reads the framework, the
cases and the template from its own checkout (an installed wheel carries them alongside)."""
from __future__ import annotations

from pathlib import Path

GRADER_DIR = Path(__file__).resolve().parent
REPO_DIR = GRADER_DIR.parent
REFERENCE_DIR = REPO_DIR / "reference"  # the course framework and the reference solution
DEFAULT_CASES_DIR = REPO_DIR / "test_cases"
STUDENT_TEMPLATE_DIR = REPO_DIR / "student_template"
