"""BP5xx: numerics — softmax overflow, log of a softmax, one-sided finite differences.

One rule per module; the registry imports every module of this package."""
