# Sabotage: importing the solution never ends (it sleeps for an hour).
import time

time.sleep(3600)
