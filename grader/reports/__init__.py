"""The report of a grading and what renders it: terminal, Markdown, JUnit, progress, batch and audit summaries."""
