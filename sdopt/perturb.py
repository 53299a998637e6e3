"""A deliberately damaged control variant: Gaussian noise on the UNet's weights, which a quality metric worth
the name must rank clearly worse."""
import numpy as np


def perturb_weights(model, relative_std: float, seed: int = 0):
    """Add Gaussian noise to every float weight tensor of an OpenVINO model."""
    from openvino import op
    rng = np.random.default_rng(seed)
    for node in list(model.get_ops()):
        if node.get_type_name() != "Constant" or node.get_output_element_type(0).get_type_name() != "f32":
            continue
        weights = node.get_data()
        if weights.size < 256:  # shapes, scalars and small biases are structure, not weights
            continue
        noisy = weights + rng.standard_normal(weights.shape).astype(np.float32) * weights.std() * relative_std
        node.output(0).replace(op.Constant(noisy.astype(np.float32)).output(0))
    return model
