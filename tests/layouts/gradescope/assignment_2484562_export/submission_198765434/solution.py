# solution.py of submission_198765434 (a stand-in: the layout tests read names, not code)
