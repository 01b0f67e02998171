# Sabotage: ReLU.forward tries to kill its parent (the supervisor), PID 1 and everything it
# may signal, with SIGKILL and with SIGINT/SIGTERM; the other sections must still run.
import os
import signal


class ReLU(ReLU):
    def forward(self, inputs):
        attempts = {}
        for name, pid in (("parent", os.getppid()), ("pid1", 1), ("everything", -1)):
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
                attempts[f"{name}:{sig.name}"] = _outcome(os.kill, pid, sig)
        findings(pid=os.getpid(), parent=os.getppid(), attempts=attempts)
