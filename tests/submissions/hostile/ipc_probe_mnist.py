# Sabotage across boxes: ReLU leaves a file in /dev/shm (and tries System V shared memory);
# train_mnist_model, in the MNIST box, looks for both.
KEY = int("@IPC_KEY@")


class ReLU(ReLU):
    def forward(self, inputs):
        with open("/dev/shm/@TOKEN@", "w") as stream:
            stream.write("from the unit box")
        _libc.shmget(KEY, 4096, 0o1000 | 0o666)
        return np.maximum(inputs, 0.0)


def train_mnist_model(x_train, y_train, x_valid, y_valid):
    seen = {"shm file": _outcome(lambda: open("/dev/shm/@TOKEN@").read()),
            "shmget": _syscall_outcome(_libc.shmget(KEY, 0, 0))}
    findings(seen=seen)
