"""BP3xx: the update and the training loop — sign, order, initialisation.

One rule per module; the registry imports every module of this package."""
