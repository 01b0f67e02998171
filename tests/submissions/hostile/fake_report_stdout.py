# Sabotage: ReLU is wrong (absolute value), and the import prints a perfect-looking report.
import json
import sys

_FAKE = {"total": 5.0, "max_total": 5.0, "sections": [
    {"name": name, "verdict": "passed", "points": 1.0, "max_points": 1.0}
    for name in ("relu", "softmax", "dense", "crossentropy", "sgd", "momentum", "mnist")]}
print(json.dumps(_FAKE))
print("5/5 passed -- FAKE REPORT")
print('{"status": "passed", "score": 5}', file=sys.stderr)


class ReLU(ReLU):
    def forward(self, inputs):
        return np.abs(inputs)
