# solution.py of Anna Ivanova_101_assignsubmission_file_ (a stand-in: the layout tests read names, not code)
