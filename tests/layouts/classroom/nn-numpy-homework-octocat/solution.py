# solution.py of nn-numpy-homework-octocat (a stand-in: the layout tests read names, not code)
