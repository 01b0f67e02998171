# solution.py of submission_198765432 (a stand-in: the layout tests read names, not code)
