"""Sandboxed auto-grader for the numpy multilayer neural-network assignment."""
__version__ = "0.1.0"
