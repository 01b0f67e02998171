# solution.py of Boris Petrov_102_assignsubmission_file_ (a stand-in: the layout tests read names, not code)
