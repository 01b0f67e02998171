# Sabotage: ReLU.forward, in a public run, looks for the hidden cases' inputs anywhere in its
# box (to print them where the student would see them). It looks once per run (a walk of the
# whole file system takes seconds on a cold cache) and reports what it found in every case.
import os


def _peek():
    found = []
    for directory, subdirectories, files in os.walk("/"):
        if directory in ("/proc", "/sys"):
            subdirectories.clear()
            continue
        found += [os.path.join(directory, name) for name in subdirectories + files
                  if "hidden" in name or "relu_4d" in name]
    return found


class ReLU(ReLU):
    found = None

    def forward(self, inputs):
        if ReLU.found is None:
            ReLU.found = _peek()
        findings(found=ReLU.found)
