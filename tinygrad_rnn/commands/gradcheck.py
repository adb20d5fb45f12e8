"""``tinygrad-rnn gradcheck``: check every op of the op table against numeric differences.

For each row of ``tinygrad_rnn.optable`` (every primitive op and every composite) it draws
``--trials`` cases from a seeded generator -- trial 0 is 0-d wherever the op allows it,
trial 1 is 1-d, later trials are random shapes with broadcasting, every kind of matrix
product, axes, indices -- fills the inputs with float64 values from each input's domain,
and checks

* the forward value against the row's plain-NumPy reference, and
* the gradient with ``tinygrad_rnn.gradcheck.gradcheck`` (random cotangent, central
  differences), which decides pass or fail.

It prints one line per op (op, math, cases, the largest |backward - numeric| seen, status)
and exits 1 if any case failed, so it can gate CI. ``--op`` restricts it to one op.
"""

from __future__ import annotations

import argparse
import zlib

import numpy as np

from tinygrad_rnn import optable
from tinygrad_rnn.cli import seed
from tinygrad_rnn.commands import guards
from tinygrad_rnn.gradcheck import gradcheck, max_vjp_error
from tinygrad_rnn.tensor import Tensor

HELP = "check every op's gradient against numeric differences and print a summary table"

MATH_WIDTH = 52  # the math column is cut to this width (the full text is in docs/ops.md)
CASE_SECONDS = 2e-3  # one case: forward check, numeric differences and backward (fast CPU)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    parser.add_argument("--trials", type=int, default=8,
                        help="cases per op (default 8; the first ones are 0-d, 1-d, ...)")
    parser.add_argument("--op", metavar="NAME", default=None,
                        help="check only this op, e.g. MatMul or softmax (case-insensitive)")


def run(args: argparse.Namespace) -> int:
    from tinygrad_rnn.cli import CommandError

    if args.trials < 1:
        raise CommandError(f"--trials must be at least 1, got {args.trials}")
    specs = optable.select(args.op)
    if not specs:
        raise CommandError(f"unknown op {args.op!r}; choose one of: "
                           f"{', '.join(optable.names())}")
    guards.budget(f"--trials {args.trials} for {len(specs)} ops",
                  guards.Cost(0.0, len(specs) * args.trials * CASE_SECONDS),
                  "use fewer --trials, or check one op with --op NAME")

    print(f"{'op':<16} {'math':<{MATH_WIDTH}} {'cases':>5} {'max abs err':>11}  status")
    failures: list[tuple[str, str, str]] = []  # (op, case, message), first failure per op
    total = 0
    for spec in specs:
        worst, failed = 0.0, 0
        # one generator per op, so an op's cases do not depend on which others are run
        rng = np.random.default_rng([args.seed, zlib.crc32(spec.name.encode())])
        for trial in range(args.trials):
            case = spec.cases(optable.RandomChooser(rng, trial))
            inputs = spec.inputs(case, rng)
            try:
                _check_forward(spec, case, inputs)
                worst = max(worst, max_vjp_error(spec.call(case), inputs, rng=rng))
                gradcheck(spec.call(case), inputs, rng=rng)
            except Exception as e:  # noqa: BLE001 (any error of an op is a failed case)
                failed += 1
                if failed == 1:
                    failures.append((spec.name, case.describe(), f"{type(e).__name__}: {e}"))
        total += args.trials
        status = "ok" if not failed else f"FAIL ({failed}/{args.trials})"
        print(f"{spec.name:<16} {_cut(spec.math):<{MATH_WIDTH}} {args.trials:>5} "
              f"{worst:>11.1e}  {status}")

    if failures:
        print(f"\n{len(failures)} of {len(specs)} ops failed (seed {args.seed}):")
        for name, where, message in failures:
            print(f"  {name} on inputs {where}:\n    {message}")
        return 1
    noun = "op" if len(specs) == 1 else "ops"
    print(f"\nall {len(specs)} {noun} passed ({total} cases, seed {args.seed})")
    return 0


class ForwardError(AssertionError):
    """An op's value differs from its plain-NumPy reference."""


def _cut(text: str) -> str:
    return text if len(text) <= MATH_WIDTH else text[:MATH_WIDTH - 3] + "..."


def _check_forward(spec: optable.OpSpec, case: optable.Case, inputs: list[Tensor]) -> None:
    """The op's value must equal the row's plain-NumPy formula."""
    out = spec.build(*inputs, **case.options)
    if spec.reference is None:
        return
    expected = np.asarray(spec.reference(*[t.data for t in inputs], **case.options))
    if out.shape != expected.shape or not np.allclose(out.data, expected, rtol=1e-12,
                                                      atol=1e-12):
        raise ForwardError(f"{spec.name}: forward gives {out.data!r} of shape {out.shape}, "
                             f"NumPy gives {expected!r} of shape {expected.shape}")
