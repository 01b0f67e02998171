"""The report of a grading and what renders it: terminal, Markdown, JUnit, progress.

Below ``grader.batch`` and ``grader.audit``: their summaries live with them, so nothing here
imports a feature."""
