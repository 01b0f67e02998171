# Sabotage: Softmax.forward raises from a helper two frames deep in solution.py.
def _normalise(rows):
    raise ValueError("sabotaged softmax")


class Softmax(Softmax):
    def forward(self, inputs):
        return _normalise(inputs)
