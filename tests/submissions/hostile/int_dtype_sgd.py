# Sabotage: the SGD updater rounds the new parameters to integers.
class SGD(SGD):
    def get_parameter_updater(self, parameter_shape):
        updater = super().get_parameter_updater(parameter_shape)
        return lambda parameter, grad: np.rint(updater(parameter, grad)).astype(np.int64)
