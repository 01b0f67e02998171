"""The code students are given: its outline, the check that it was kept, the template generated from the reference."""
