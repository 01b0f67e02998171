"""``grader audit``: how strong are the test cases? Mutants of the reference that the cases
must fail, correct solutions written other accepted ways that they must pass."""
