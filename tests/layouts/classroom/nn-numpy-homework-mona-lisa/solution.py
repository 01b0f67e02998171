# solution.py of nn-numpy-homework-mona-lisa (a stand-in: the layout tests read names, not code)
