"""BP2xx: the output layer and the loss — σ′ kept or dropped, the softmax Jacobian.

One rule per module; the registry imports every module of this package."""
