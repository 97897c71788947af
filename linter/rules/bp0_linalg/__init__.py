"""BP0xx: linear algebra and orientation — transposes, inverses, outer products, Hadamard.

One rule per module; the registry imports every module of this package."""
