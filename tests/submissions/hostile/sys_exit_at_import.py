# Sabotage: leave the interpreter (politely) while solution.py is being imported.
import sys

sys.exit(0)
