"""bplint: a linter for cargo-culted backpropagation code."""

__version__ = "0.1.0"
