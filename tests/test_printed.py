"""The tolerant comparison of printed output (tests/printed.py): a number that another BLAS
kernel rounds differently passes, a number that is really wrong fails."""

from __future__ import annotations

import pytest
from printed import mismatch, parse_tolerance

QUOTED = "step 2000  train 0.0108  validation 0.1918\nearly stopping keeps step 500"


def test_last_digit_of_a_float_may_differ() -> None:
    # the case seen on another CPU: 0.1920 here, 0.1918 on the page
    assert mismatch(QUOTED.replace("0.1918", "0.1920"), QUOTED) is None
    assert mismatch("d = 6.764e-04", "d = 6.763e-04") is None
    assert mismatch("[-0.0348  0.2568]", "[-0.0348  0.2567]") is None


def test_a_wrong_number_fails() -> None:
    why = mismatch(QUOTED.replace("0.1918", "0.2918"), QUOTED)
    assert why is not None and "0.2918" in why and "line 1" in why
    assert mismatch("d = 6.763e-03", "d = 6.763e-04") is not None  # exponent off by one
    assert mismatch("2.83e+01", "2.83e+00") is not None
    assert mismatch("[-0.0348]", "[0.0348]") is not None  # sign
    assert mismatch("loss 0.1940", "loss 0.1918") is not None  # 1 % off: beyond 1e-3


def test_integers_must_match_exactly() -> None:
    why = mismatch(QUOTED.replace("500", "750"), QUOTED)
    assert why is not None and "integer 750" in why
    assert mismatch("(5, 1, 4)", "(5, 1, 3)") is not None
    assert mismatch("84 values freed", "85 values freed", rel=0.5) is not None


def test_text_must_match_but_column_padding_may_not() -> None:
    assert mismatch("[0.1681 0.082  0.197 ]", "[0.1681  0.082 0.197]") is None
    assert mismatch("True", "False") is not None
    assert mismatch("t=3/RNNCell", "t=3/GRUCell") is not None
    assert mismatch("weight_hh_l0", "weight_hh_l1") is not None  # a digit in a name is text
    assert mismatch("a\nb", "a") is not None  # line count


def test_whole_floats_and_tiny_values_have_no_free_unit() -> None:
    assert mismatch("[[2. 0.]]", "[[3. 0.]]") is not None
    assert mismatch("0.0000", "0.0001") is None  # one unit in the last digit
    assert mismatch("0.0000", "0.0003") is not None


def test_tolerance_options_widen_the_relative_and_absolute_bounds() -> None:
    rel, abs_tol = parse_tolerance("rel=0.1 abs=1e-6")
    assert (rel, abs_tol) == (0.1, 1e-6)
    assert mismatch("loss 0.0105", "loss 0.0099", rel=rel, abs_tol=abs_tol) is None
    assert mismatch("loss 0.0150", "loss 0.0099", rel=rel, abs_tol=abs_tol) is not None
    assert mismatch("x 3e-06", "x 1e-06", abs_tol=1e-5) is None
    with pytest.raises(ValueError, match="unknown tolerance option"):
        parse_tolerance("tol=1")
    with pytest.raises(ValueError, match="not a number"):
        parse_tolerance("rel=big")
