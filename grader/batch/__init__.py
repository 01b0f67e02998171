"""Grading a whole class: find the submissions, grade them (here or on a Dask cluster),
keep every result in SQLite, write the gradebook and the class report."""
