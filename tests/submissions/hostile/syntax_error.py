# Sabotage: a syntax error; solution.py cannot be imported at all.
class ReLU(ReLU):
    def forward(self, inputs)
        return np.maximum(inputs, 0.0)
