"""Neural-network building blocks, every one written with primitive Tensor ops only."""

from tinygrad_rnn.nn import functional, utils
from tinygrad_rnn.nn.cells import GRUCell, LSTMCell, RNNCell, SimpleGRUCell
from tinygrad_rnn.nn.container import ModuleList
from tinygrad_rnn.nn.layers import (
    Dropout,
    Embedding,
    Identity,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from tinygrad_rnn.nn.loss import CrossEntropyLoss, MSELoss, NLLLoss
from tinygrad_rnn.nn.module import Module, Parameter
from tinygrad_rnn.nn.recurrent import GRU, LSTM, RNN

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "GRUCell",
    "Identity",
    "LSTMCell",
    "Linear",
    "MSELoss",
    "Module",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "RNNCell",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SimpleGRUCell",
    "Tanh",
    "functional",
    "utils",
]
