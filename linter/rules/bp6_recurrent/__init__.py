"""BP6xx: recurrent networks — backpropagation through time (the carry, the loop's range, the
initial state, the recurrent Jacobian).

One rule per module; the registry imports every module of this package."""
