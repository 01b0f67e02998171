# Sabotage: the momentum updater answers NaN everywhere.
class SGDMomentum(SGDMomentum):
    def get_parameter_updater(self, parameter_shape):
        return lambda parameter, grad: np.full(parameter.shape, np.nan)
