"""Activation functions and their derivatives.

Every ``*_prime`` takes the pre-activation z (not the activation), like ``sigmoid_prime(z)``.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    s = sigmoid(z)
    return s * (1.0 - s)


def relu(z):
    return np.maximum(z, 0.0)


def relu_prime(z):
    return (z > 0).astype(z.dtype)


def identity(z):
    return z


def identity_prime(z):
    return np.ones_like(z)
