# solution.py of alice (a stand-in: the layout tests read names, not code)
