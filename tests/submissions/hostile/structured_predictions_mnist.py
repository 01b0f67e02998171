# Sabotage: the MNIST predictions come back as a structured array (one record per image).
import common


def _records(model, x, batch_size=1000):
    return np.zeros(x.shape[0], dtype=[("label", "i8"), ("confidence", "f8")])


common.predict_classes = _records
