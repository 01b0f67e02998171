"""Where grading runs for a course platform: Gradescope today."""
