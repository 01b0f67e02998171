"""The system calls no box may make, for bubblewrap (a BPF program) and Docker (a profile).

Without capabilities most of these fail anyway; the filter also closes what an
unprivileged process could still do to reach out of its box or leave something
behind: kernel keyrings (keys outlive the process), System V IPC and POSIX
message queues (nothing here needs them; the box's IPC namespace is the second
line), new user namespaces (full
capabilities inside one), ptrace and cross-process memory access, mounting,
BPF, perf, userfaultfd and io_uring. ``clone3`` answers ENOSYS, so that C
libraries fall back to ``clone``, whose namespace flags can be checked.
Built with libseccomp (through ``pyseccomp``); other architectures' system
calls kill the process.
"""
from __future__ import annotations

import errno
import functools
import os

DENIED = (
    "keyctl", "add_key", "request_key",
    "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl", "semget",
    "semop", "semtimedop", "semctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
    "mq_notify", "mq_getsetattr",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "mount_setattr", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "open_by_handle_at",
    "name_to_handle_at",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "fanotify_init",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "syslog", "iopl", "ioperm", "vhangup",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
)
NAMESPACE_FLAGS = {"CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000,
                   "CLONE_NEWUTS": 0x04000000, "CLONE_NEWIPC": 0x08000000,
                   "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
                   "CLONE_NEWNET": 0x40000000}


class SeccompUnavailable(Exception):
    """libseccomp cannot be used here (the reason is the message)."""


AF_UNIX = 1


@functools.cache
def bpf_program(sockets_local_only: bool = False) -> bytes:
    """The compiled filter, for ``bwrap --seccomp FD``; with ``sockets_local_only`` also
    every socket but a Unix one refused (the network of a box with no network namespace)."""
    try:
        import pyseccomp as seccomp

        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        if sockets_local_only:
            rules.add_rule(seccomp.ERRNO(errno.EACCES), "socket",
                           seccomp.Arg(0, seccomp.NE, AF_UNIX))
        for name in DENIED:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        for flag in NAMESPACE_FLAGS.values():
            rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone",
                           seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        descriptor = os.memfd_create("nn-grader-seccomp")
        with os.fdopen(descriptor, "w+b") as stream:
            rules.export_bpf(stream)
            stream.seek(0)
            return stream.read()
    except (ImportError, OSError, RuntimeError, ValueError) as error:
        raise SeccompUnavailable(f"libseccomp is not usable ({error}); install the Debian "
                                 "package libseccomp2 and the Python package pyseccomp") from None


def docker_profile() -> dict:
    """The same rules as a Docker seccomp profile (``security_opt=["seccomp=<json>"]``)."""
    deny = [{"names": list(DENIED), "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM}]
    deny += [{"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM,
              "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}]}
             for flag in NAMESPACE_FLAGS.values()]
    deny.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS})
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": deny}
