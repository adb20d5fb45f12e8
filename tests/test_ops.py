"""Every primitive op and every composite, checked from the one op table (tinygrad_rnn.optable).

* gradients: a Hypothesis property test per row -- the engine's VJP against float64 central
  differences (gradcheck), over shapes of every rank (0-d and 1-d included), broadcasting
  pairs, every kind of matrix product, and each op's options (axis, index, exponent, ...);
* forward values: a property test per row against the same computation in plain NumPy;
* the special rules: repeated indices accumulate, max splits ties equally, sigmoid is
  stable at |x| = 1000, matmul's 1-D / 2-D / batched cases;
* bad shapes give an error naming the op and both shapes.

Run with ``--hypothesis-show-statistics`` to see how many examples each row ran.
"""

from __future__ import annotations

import doctest
import inspect
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F
from tinygrad_rnn import ops
from tinygrad_rnn import testing as tgt
from tinygrad_rnn.function import Function
from tinygrad_rnn.gradcheck import gradcheck
from tinygrad_rnn.optable import (
    MATMUL_KINDS,
    NOT_DIFFERENTIABLE,
    TABLE,
    Case,
    RandomChooser,
    select,
)
from tinygrad_rnn.testing import op_examples

GRAD_EXAMPLES = 40  # per row of the table; the whole file stays within a few seconds
FORWARD_EXAMPLES = 25

ROWS = {spec.name: spec for spec in TABLE}


def _label(case: Case) -> None:
    """Record what kind of case Hypothesis drew (shown by --hypothesis-show-statistics)."""
    ranks = sorted({len(s) for s in case.shapes})
    event(f"ranks {ranks}")
    if len(case.shapes) > 1 and len(set(case.shapes)) > 1:
        event("inputs of different shapes (broadcast or concat)")


# ---- the table is complete ----------------------------------------------------------------


def test_table_has_every_primitive_op_class():
    classes = {name for name, obj in vars(ops).items()
               if inspect.isclass(obj) and issubclass(obj, Function) and obj is not Function}
    rows = {spec.name for spec in TABLE if spec.kind == "primitive"}
    assert classes == rows
    assert {"Abs", "Clone", "Add", "MatMul"} <= rows


def test_table_has_every_public_function_of_functional():
    public = {name for name, obj in vars(F).items()
              if inspect.isfunction(obj) and obj.__module__ == F.__name__
              and not name.startswith("_") and name not in NOT_DIFFERENTIABLE}
    rows = {spec.name.removeprefix("F.") for spec in TABLE if spec.name.startswith("F.")}
    assert public == rows


def test_every_row_states_its_math():
    for spec in TABLE:
        assert spec.math.strip(), spec.name
        if spec.kind == "primitive":  # "forward;  vjp" -- the derivative table's row
            forward, _, vjp = spec.math.partition(";")
            assert forward.startswith("y =") and vjp.strip(), spec.name


@pytest.mark.parametrize("spec", [s for s in TABLE if s.kind == "primitive"], ids=lambda s: s.name)
def test_primitive_rows_build_their_op(spec):
    # the row's build function must record exactly the op class it claims to check
    for trial in range(8):
        rng = np.random.default_rng(trial)
        case = spec.cases(RandomChooser(rng, trial))
        out = spec.build(*spec.inputs(case, rng), **case.options)
        assert type(out.grad_fn) is spec.op_class, (spec.name, case.describe())


# ---- gradients: property tests against numeric differences --------------------------------


@pytest.mark.parametrize("spec", TABLE, ids=lambda s: s.name)
@settings(max_examples=GRAD_EXAMPLES, deadline=None)
@given(data=st.data())
def test_gradients_match_numeric_differences(spec, data):
    case, inputs = data.draw(op_examples(spec), label="case")
    _label(case)
    assert gradcheck(spec.call(case), inputs)


@pytest.mark.parametrize("spec", TABLE, ids=lambda s: s.name)
def test_gradients_on_systematic_cases(spec):
    """Trials 0, 1, 2, ... use rank 0, 1, 2, ... wherever the op allows, and every matmul
    kind in turn: 0-d, 1-d and broadcasting are checked on every run, not only when
    Hypothesis happens to draw them."""
    ranks_seen = set()
    for trial in range(len(MATMUL_KINDS)):
        rng = np.random.default_rng(100 + trial)
        case = spec.cases(RandomChooser(rng, trial))
        ranks_seen |= {len(s) for s in case.shapes}
        assert gradcheck(spec.call(case), spec.inputs(case, rng), rng=trial)
    assert {1, 2} <= ranks_seen


# ---- forward values against plain NumPy ---------------------------------------------------


@pytest.mark.parametrize("spec", [s for s in TABLE if s.reference is not None],
                         ids=lambda s: s.name)
@settings(max_examples=FORWARD_EXAMPLES, deadline=None)
@given(data=st.data())
def test_forward_matches_numpy(spec, data):
    case, inputs = data.draw(op_examples(spec), label="case")
    out = spec.build(*inputs, **case.options)
    expected = np.asarray(spec.reference(*[t.data for t in inputs], **case.options))
    assert out.shape == expected.shape
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


def test_dropout_row_is_deterministic_for_a_fixed_seed():
    # gradcheck of the dropout row relies on the same mask at every call
    (spec,) = select("F.dropout")
    x = tg.Tensor(np.ones((50,)), requires_grad=True)
    a = spec.build(x, p=0.5, seed=7).data
    b = spec.build(x, p=0.5, seed=7).data
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) == {0.0, 2.0}


# ---- getitem: repeated indices accumulate -------------------------------------------------


def test_getitem_repeated_integer_indices_accumulate():
    x = tg.Tensor(np.arange(5.0), requires_grad=True)
    y = x[np.array([0, 0, 2, 0])]
    np.testing.assert_array_equal(y.data, [0.0, 0.0, 2.0, 0.0])
    y.backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.grad, [1.0 + 2.0 + 4.0, 0.0, 3.0, 0.0, 0.0])


def test_getitem_repeated_index_pairs_accumulate_in_2d():
    x = tg.Tensor(np.zeros((2, 3)), requires_grad=True)
    rows, cols = np.array([1, 1, 0, 1]), np.array([2, 2, 0, 2])
    x[rows, cols].sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 0.0, 0.0], [0.0, 0.0, 3.0]])


def test_getitem_list_index_and_embedding_lookup_accumulate():
    table = tg.Tensor(np.ones((4, 2)), requires_grad=True)
    table[[3, 1, 3, 3]].sum().backward()  # an embedding lookup with a repeated token
    np.testing.assert_array_equal(table.grad, [[0, 0], [1, 1], [0, 0], [3, 3]])


def test_getitem_basic_slice_gradient_is_zero_outside_the_slice():
    x = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x[:, 1:].sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 1], [0, 1, 1]])


# ---- max: the tie rule --------------------------------------------------------------------


def test_max_splits_the_gradient_equally_between_ties():
    x = tg.Tensor(np.array([1.0, 3.0, 3.0, 2.0]), requires_grad=True)
    y = x.max()
    assert y.item() == 3.0
    y.backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5, 0.0])


def test_max_tie_rule_per_row_with_axis_and_keepdims():
    x = tg.Tensor(np.array([[1.0, 1.0, 1.0], [2.0, 0.0, 2.0], [0.0, 5.0, 1.0]]),
                  requires_grad=True)
    y = x.max(axis=1, keepdims=True)
    np.testing.assert_array_equal(y.data, [[1.0], [2.0], [5.0]])
    y.backward(np.array([[3.0], [1.0], [2.0]]))
    np.testing.assert_allclose(x.grad, [[1.0, 1.0, 1.0], [0.5, 0.0, 0.5], [0.0, 2.0, 0.0]],
                               rtol=1e-15)
    assert np.allclose(x.grad.sum(axis=1), [3.0, 1.0, 2.0])  # the gradient is conserved


# ---- sigmoid: stable for large |x| --------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_at_plus_minus_1000(dtype):
    x = tg.Tensor(np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=dtype),
                  requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        y = x.sigmoid()
        y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(y.data, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-30)
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 0.25, 0.0, 0.0], atol=1e-30)


# ---- matmul: every 1-D / 2-D / batched case -----------------------------------------------

MATMUL_CASES = {
    "1d@1d": ((3,), (3,)),
    "1d@2d": ((3,), (3, 4)),
    "2d@1d": ((2, 3), (3,)),
    "2d@2d": ((2, 3), (3, 4)),
    "batched@batched": ((5, 2, 3), (5, 3, 4)),
    "batched@2d": ((5, 2, 3), (3, 4)),
    "2d@batched": ((2, 3), (5, 3, 4)),
    "broadcast batches": ((2, 1, 2, 3), (5, 3, 4)),
    "1d@batched": ((3,), (2, 5, 3, 4)),
    "batched@1d": ((2, 5, 2, 3), (3,)),
}


@pytest.mark.parametrize("shapes", MATMUL_CASES.values(), ids=MATMUL_CASES.keys())
def test_matmul_every_case(shapes):
    rng = np.random.default_rng(0)
    a = tg.Tensor(rng.standard_normal(shapes[0]), requires_grad=True)
    b = tg.Tensor(rng.standard_normal(shapes[1]), requires_grad=True)
    out = a @ b
    expected = np.matmul(a.data, b.data)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-13)
    assert gradcheck(lambda a, b: a @ b, [a, b])


def test_matmul_with_constant_operands_on_either_side():
    w = tg.Tensor(np.ones((3, 2)), requires_grad=True)
    x = np.arange(6.0).reshape(2, 3)
    (x @ w).sum().backward()  # np.ndarray @ Tensor: the reflected operator
    np.testing.assert_array_equal(w.grad, np.broadcast_to(x.sum(axis=0)[:, None], (3, 2)))


# ---- bad shapes name the op and both shapes -----------------------------------------------


def test_matmul_shape_mismatch_names_op_and_shapes():
    a, b = tg.Tensor(np.ones((2, 3))), tg.Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError) as err:
        a @ b
    message = str(err.value)
    assert "MatMul" in message and "(2, 3)" in message and "(4, 5)" in message


def test_matmul_of_a_0d_tensor_is_refused():
    with pytest.raises(ValueError, match="MatMul"):
        tg.Tensor(np.float64(2.0)) @ tg.Tensor(np.ones(3))


@pytest.mark.parametrize("op, name", [(lambda a, b: a + b, "Add"), (lambda a, b: a - b, "Sub"),
                                      (lambda a, b: a * b, "Mul"), (lambda a, b: a / b, "Div")])
def test_broadcast_mismatch_names_op_and_shapes(op, name):
    a = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    b = tg.Tensor(np.ones((4,)))
    with pytest.raises(ValueError) as err:
        op(a, b)
    message = str(err.value)
    assert name in message and "(2, 3)" in message and "(4,)" in message


def test_concat_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError) as err:
        tg.concat([tg.Tensor(np.ones((2, 3))), tg.Tensor(np.ones((3, 2)))], axis=0)
    message = str(err.value)
    assert "Concat" in message and "(2, 3)" in message and "(3, 2)" in message


def test_where_needs_a_boolean_condition():
    with pytest.raises(ValueError, match="Where"):
        ops.Where.apply(tg.Tensor(np.ones(2)), tg.Tensor(np.ones(2)), tg.Tensor(np.ones(2)))


# ---- the public strategies themselves (tinygrad_rnn.testing) ------------------------------


@settings(max_examples=60, deadline=None)
@given(tgt.broadcastable_shapes(n=3))
def test_broadcastable_shapes_broadcast(shapes):
    event(f"ranks {sorted(len(s) for s in shapes)}")
    np.broadcast_shapes(*shapes)  # raises if they do not


@settings(max_examples=60, deadline=None)
@given(tgt.matmul_shapes())
def test_matmul_shapes_are_valid_for_numpy(pair):
    a, b = pair
    event(f"{len(a)}-D @ {len(b)}-D")
    # NumPy drops each 1-D operand's promoted axis again
    assert np.matmul(np.ones(a), np.ones(b)).ndim == max(len(a), len(b)) - (
        (len(a) == 1) + (len(b) == 1)) + (len(a) == 1 and len(b) == 1)


@settings(max_examples=30, deadline=None)
@given(tgt.distinct_arrays(tgt.shapes(max_dims=3)))
def test_distinct_arrays_have_no_near_ties(a):
    values = np.sort(a.reshape(-1))
    assert np.all(np.diff(values) >= 6.0 / (2 * max(a.size, 1)) - 1e-12)


@settings(max_examples=30, deadline=None)
@given(tgt.arrays_away_from((5, 5), points=(0.0, 1.0), margin=0.2))
def test_arrays_away_from_keep_their_margin(a):
    assert np.all(np.abs(a) >= 0.2) and np.all(np.abs(a - 1.0) >= 0.2)


@settings(max_examples=20, deadline=None)
@given(tgt.tensors(tgt.shapes(), values=None), tgt.positive_arrays((3,)))
def test_tensors_are_float64_and_positive_arrays_positive(t, p):
    assert t.dtype == np.float64 and t.requires_grad and np.all(np.abs(t.data) <= 3)
    assert np.all(p >= 0.2)


def test_the_docstring_examples_of_testing_run():
    failures, attempted = doctest.testmod(tgt, verbose=False)
    assert attempted >= 10 and failures == 0


def test_testing_without_hypothesis_explains_how_to_install_it():
    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "try:\n    import tinygrad_rnn.testing\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent).stdout
    assert "hypothesis" in out and "pip install" in out and "[test]" in out


@pytest.mark.usefixtures("fast_path")  # a layout of the fast path
def test_stacking_f_ordered_pieces_gives_a_c_ordered_array():
    # float32 Linear outputs are F-ordered; stacking them must not give an array that is
    # neither C- nor F-ordered (every later reshape would copy it)
    rng = np.random.default_rng(0)
    pieces = [np.asfortranarray(rng.standard_normal((3, 4)).astype(np.float32)) for _ in range(5)]
    out = tg.stack([tg.Tensor(p) for p in pieces]).data
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, np.stack(pieces))


def test_float32_linear_batches_equal_the_plain_product():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    w = rng.standard_normal((3, 5)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    y = F.linear(tg.Tensor(x), tg.Tensor(w), tg.Tensor(b)).data
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x.astype(np.float64) @ w.T.astype(np.float64) + b,
                               rtol=1e-5, atol=1e-5)
