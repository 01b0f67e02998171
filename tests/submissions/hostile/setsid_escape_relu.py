# Sabotage: ReLU.forward starts a process in a session of its own, both take the test's token
# as their name, and both run forever.
import os


class ReLU(ReLU):
    def forward(self, inputs):
        if os.fork() == 0:
            os.setsid()
        _libc.prctl(15, b"@TOKEN@")
        while True:
            pass
