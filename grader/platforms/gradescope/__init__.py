"""The Gradescope autograder: the zip (export), what run_autograder runs (run), results.json (results)."""
