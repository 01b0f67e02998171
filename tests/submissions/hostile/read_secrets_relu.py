# Sabotage: ReLU.forward looks for the expected outputs and the reference solution on disk
# (absolute paths written in at test time); it copies the expected outputs if it finds them,
# else answers -1 everywhere. What it saw goes to the drop directory for the test to check.
import json
import os
from pathlib import Path

CASES_DIR = Path("@CASES_DIR@")
REFERENCE_SOLUTION = "@REFERENCE_SOLUTION@"


def _spy():
    seen = {"walked": [], "opened": {}}
    for directory, _, files in os.walk(CASES_DIR):
        seen["walked"] += [os.path.join(directory, name) for name in files]
    for path in [REFERENCE_SOLUTION, *CASES_DIR.glob("*/00_unittest_relu_gt/*.npz"),
                 CASES_DIR / "public" / "00_unittest_relu_gt" / "relu_2d.npz"]:
        try:
            with open(path, "rb") as stream:
                seen["opened"][str(path)] = len(stream.read())
        except OSError as error:
            seen["opened"][str(path)] = f"{type(error).__name__}: {error}"
    with open("@DROP_DIR@/secrets.json", "w") as stream:
        json.dump(seen, stream, indent=1)


class ReLU(ReLU):
    def forward(self, inputs):
        _spy()
        for visibility in ("public", "hidden"):
            for case in Path("tests", visibility, "00_unittest_relu_input").glob("*.npz"):
                if np.array_equal(np.load(case)["inputs"], inputs):
                    expected = CASES_DIR / visibility / "00_unittest_relu_gt" / case.name
                    try:
                        return np.load(expected)["outputs"]
                    except (OSError, ValueError, KeyError):
                        pass
        return -np.ones_like(inputs)
