"""Sub-commands of ``tinygrad-rnn`` (one module each; see ``tinygrad_rnn/cli.py``)."""
