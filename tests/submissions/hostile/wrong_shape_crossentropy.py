# Sabotage: the loss keeps a trailing axis, shape (n, 1) instead of (n,).
class CategoricalCrossentropy(CategoricalCrossentropy):
    def __call__(self, y_gt, y_pred):
        return super().__call__(y_gt, y_pred)[:, None]
