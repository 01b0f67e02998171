# Sabotage: ReLU.forward tries to trace or read the memory of the supervisor (its parent and
# the box's PID 1), and to read its environment and file descriptors.
import os

PTRACE_TRACEME, PTRACE_ATTACH, PTRACE_SEIZE = 0, 16, 0x4206


class ReLU(ReLU):
    def forward(self, inputs):
        tried = {}
        for target in (os.getppid(), 1):
            tried[f"attach {target}"] = _syscall_outcome(_libc.ptrace(PTRACE_ATTACH, target, 0, 0))
            tried[f"seize {target}"] = _syscall_outcome(_libc.ptrace(PTRACE_SEIZE, target, 0, 0))
            for what in ("mem", "environ"):
                try:
                    with open(f"/proc/{target}/{what}", "rb") as stream:
                        stream.read(16)
                    tried[f"read {target}/{what}"] = "ok"
                except OSError as error:
                    tried[f"read {target}/{what}"] = type(error).__name__
            tried[f"fds of {target}"] = _outcome(os.listdir, f"/proc/{target}/fd")
        tried["traceme"] = _syscall_outcome(_libc.ptrace(PTRACE_TRACEME, 0, 0, 0))
        findings(tried=tried)
