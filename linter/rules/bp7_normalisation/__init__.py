"""BP7xx: normalisation layers — batch norm's backward (γ, the batch statistics).

One rule per module; the registry imports every module of this package."""
