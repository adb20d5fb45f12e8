"""Neural-network building blocks, every one written with primitive Tensor ops only."""

from tinygrad_rnn.nn.cells import GRUCell, LSTMCell, RNNCell, SimpleGRUCell
from tinygrad_rnn.nn.layers import Dropout, Embedding, Linear, ReLU, Sequential, Sigmoid, Tanh
from tinygrad_rnn.nn.module import Module, Parameter
from tinygrad_rnn.nn.recurrent import GRU, LSTM, RNN

__all__ = [
    "Dropout",
    "Embedding",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "Linear",
    "Module",
    "Parameter",
    "RNN",
    "RNNCell",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SimpleGRUCell",
    "Tanh",
]
