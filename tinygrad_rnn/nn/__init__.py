"""Neural-network building blocks, every one written with primitive Tensor ops only."""

from tinygrad_rnn.nn.cells import GRUCell, LSTMCell, RNNCell, SimpleGRUCell
from tinygrad_rnn.nn.layers import Dropout, Embedding, Linear, ReLU, Sequential, Sigmoid, Tanh
from tinygrad_rnn.nn.module import Module, Parameter

__all__ = [
    "Dropout",
    "Embedding",
    "GRUCell",
    "LSTMCell",
    "Linear",
    "Module",
    "Parameter",
    "RNNCell",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SimpleGRUCell",
    "Tanh",
]
