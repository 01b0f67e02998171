# solution.py of homework2 (a stand-in: the layout tests read names, not code)
