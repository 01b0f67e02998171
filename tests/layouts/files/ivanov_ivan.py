# solution.py of files (a stand-in: the layout tests read names, not code)
