# Sabotage: Dense.forward hoards memory, 256 MiB a block, until it runs out. The blocks are
# left untouched (fast): the sandbox limits address space (RLIMIT_AS), which they count in full.
class Dense(Dense):
    def forward(self, inputs):
        hoard = []
        while True:
            hoard.append(np.empty(32 * 2**20))
