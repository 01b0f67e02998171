"""Everything ``grader serve`` uses from the rest of the grader, in one place.

The service's other modules import these names from here only, so that moving a module
of the grader changes this file and nothing else of the service.
"""
from __future__ import annotations

from grader.batch.gradebook import (GradebookError, GradebookRow, row as gradebook_row,
                                    safe_cell, to_csv)
from grader.batch.grading import (grade_file, grade_remote, options_for_remote,
                                  worker_identity)
from grader.batch.identity import cases_digest, grader_version
from grader.batch.outputs import Graded, Read
from grader.batch.report_html import charts, common_failures, pass_rate
from grader.batch.similarity import similar_pairs
from grader.batch.store import Batch
from grader.config import ConfigError, load_config
from grader.database import (Database, DatabaseError, PostgresDatabase, SqliteDatabase,
                             Transaction)
from grader.gradings import SCHEMA as GRADINGS_SCHEMA, Key, at as gradings_time
from grader.gradings import latest_report, newest_key, record as record_grading
from grader.boxes.machine_share import SharedMachine, machine_cores
from grader.options import GradingOptions
from grader.paths import DEFAULT_CASES_DIR
from grader.pipeline import case_sections, failed_report
from grader.reports.model import ErrorCause, GradingReport, SectionResult, Verdict
from grader.reports import student_view
from grader.given_code.template import given_code
from reference.common import Section

MNIST_SECTION = "mnist"

__all__ = ["DEFAULT_CASES_DIR", "GRADINGS_SCHEMA", "MNIST_SECTION", "Batch", "ConfigError",
           "Database", "DatabaseError", "ErrorCause", "GradebookError", "GradebookRow",
           "Graded", "GradingOptions", "GradingReport", "Key", "PostgresDatabase", "Read",
           "Section", "SectionResult", "SharedMachine", "SqliteDatabase", "Transaction",
           "Verdict", "case_sections", "cases_digest", "charts", "common_failures",
           "failed_report", "given_code", "grade_file", "grade_remote", "gradebook_row",
           "grader_version", "gradings_time", "latest_report", "load_config", "machine_cores",
           "newest_key", "options_for_remote", "pass_rate", "record_grading", "safe_cell",
           "similar_pairs", "student_view", "to_csv", "worker_identity"]
