# Sabotage: leave the interpreter at once, skipping every handler, while being imported.
import os

os._exit(0)
