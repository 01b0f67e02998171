"""``python -m grader`` runs the command-line interface."""
from grader.cli import app

app(prog_name="grader")
