# Sabotage: ReLU.forward, in a public run, looks for the hidden cases' inputs anywhere in its
# box (to print them where the student would see them).
import os


class ReLU(ReLU):
    def forward(self, inputs):
        found = []
        for directory, subdirectories, files in os.walk("/"):
            if directory in ("/proc", "/sys"):
                subdirectories.clear()
                continue
            found += [os.path.join(directory, name) for name in subdirectories + files
                      if "hidden" in name or "relu_4d" in name]
        findings(found=found)
