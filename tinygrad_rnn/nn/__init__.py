"""Neural-network building blocks, every one written with primitive Tensor ops only."""

from tinygrad_rnn.nn.module import Module, Parameter

__all__ = ["Module", "Parameter"]
