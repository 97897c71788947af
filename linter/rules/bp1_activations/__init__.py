"""BP1xx: activation derivatives — evaluated at the wrong variable, or not a derivative at all.

One rule per module; the registry imports every module of this package."""
