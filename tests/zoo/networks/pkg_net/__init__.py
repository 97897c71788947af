"""A small package-style network: activations in one module, the model in another."""

from .model import Model, mse

__all__ = ["Model", "mse"]
