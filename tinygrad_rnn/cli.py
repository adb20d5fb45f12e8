"""The ``tinygrad-rnn`` command. Each sub-command lives in its own module under
``tinygrad_rnn/commands/`` and is discovered here; a module defines

    HELP = "one line shown in --help"
    def add_arguments(parser: argparse.ArgumentParser) -> None: ...
    def run(args: argparse.Namespace) -> int: ...      # the exit code

(a module without ``run``, such as ``commands/guards.py``, is a helper, not a command).

Errors a user can fix (bad arguments, a missing optional dependency, sizes too big for the
machine, an output path that cannot be written) are raised as ``CommandError`` and printed
as one clear line with exit code 2, never a traceback. Running out of memory anyway (the
size checks are estimates) prints one line and exits 1; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from tinygrad_rnn import __version__, commands


class CommandError(Exception):
    """A problem the user can fix; the message says what to do."""


def seed(text: str) -> int:
    """argparse type for --seed: a non-negative integer (what NumPy's generators accept)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinygrad-rnn",
        description="See backpropagation through time emerge from reverse-mode autodiff.",
    )
    parser.add_argument("--version", action="version", version=f"tinygrad-rnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"tinygrad_rnn.commands.{info.name}")
        if not hasattr(module, "run"):
            continue
        p = sub.add_parser(info.name.replace("_", "-"), help=module.HELP,
                           description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    try:
        return int(args._run(args))
    except CommandError as e:
        print(f"tinygrad-rnn {args.command}: error: {e}", file=sys.stderr)
        return 2
    except MemoryError as e:  # NumPy's _ArrayMemoryError says how much it wanted
        detail = f" ({e})" if str(e) else ""
        print(f"tinygrad-rnn {args.command}: error: out of memory{detail}; use smaller sizes",
              file=sys.stderr)
        return 1
    except BrokenPipeError:  # `tinygrad-rnn flow --json | head -1`: the reader has gone
        # Python would report the pipe again when it flushes stdout at exit: point stdout at
        # /dev/null first, and exit as a process killed by SIGPIPE would (128 + 13)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print(f"tinygrad-rnn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
