"""Run every example in ``--quick`` mode as a subprocess and check the outcome it reports.

Each example ends by printing ``RESULT {json}``; these tests read that line and check the
numbers that show the lecture's point (a loss that fell, an accuracy above chance, the
bidirectional net beating the unidirectional one, ...), with margins wide enough for any
seed to pass. The examples run two at a time (one per core) in a shared pool, started as
soon as this module is collected, so the whole file takes about as long as half of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TIMEOUT = 120  # seconds per example; --quick aims at 10-20 s

_pool = ThreadPoolExecutor(max_workers=2)
_runs: dict[tuple[str, tuple[str, ...]], Future] = {}


def _run(name: str, extra: tuple[str, ...], out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = env["MKL_NUM_THREADS"] = "1"
    env["MPLBACKEND"] = "Agg"
    return subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--quick", "--out", str(out), *extra],
        capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=str(out.parent))


def example(name: str, tmp_root: Path, *extra: str) -> dict[str, Any]:
    """Run ``examples/<name>.py --quick`` (once per argument set) and return its RESULT."""
    key = (name, extra)
    if key not in _runs:
        out = tmp_root / "-".join((name, *extra))
        out.parent.mkdir(parents=True, exist_ok=True)
        _runs[key] = _pool.submit(_run, name, extra, out)
    proc = _runs[key].result()
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, f"{name} printed {len(lines)} RESULT lines:\n{proc.stdout[-2000:]}"
    assert proc.stdout.rstrip().splitlines()[-1] == lines[0], "RESULT must be the last line"
    return json.loads(lines[0][len("RESULT "):])


# the slowest first, so that the two workers finish at about the same time
ALL = ("05_vanishing_gradients", "07_bidirectional_deep", "04_char_lm", "08_time_series",
       "06_clipping_truncation", "03_word_detector", "01_feedforward", "02_bptt_by_hand")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("examples")
    for name in ALL:  # start them all now; each test waits only for its own
        key = (name, ())
        if key not in _runs:
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            _runs[key] = _pool.submit(_run, name, (), path / name)
    return path


def test_every_example_is_tested() -> None:
    scripts = {p.stem for p in EXAMPLES.glob("[0-9][0-9]_*.py")}
    assert scripts == set(ALL)


def out_dir(root: Path, name: str) -> Path:
    """Where ``example(name, root)`` wrote its files."""
    return root / name


def figures(root: Path, name: str) -> list[Path]:
    return sorted(p for p in out_dir(root, name).iterdir() if p.suffix in (".png", ".svg"))


# ---- 1. feedforward ------------------------------------------------------------------------
def test_01_feedforward_gradients_match_hand_formulas_and_models_learn(root: Path) -> None:
    r = example("01_feedforward", root)
    assert r["grad_max_abs_diff"] < 1e-10  # float64, same formula: rounding only
    assert r["regression_val_mse"] < 0.1 * r["regression_mean_baseline_mse"]
    assert r["classification_val_accuracy"] > 0.85  # chance is 1/3
    assert r["regression_best_epoch"] <= r["regression_stopped_epoch"]
    assert figures(root, "01_feedforward")


# ---- 3. word detector ------------------------------------------------------------------------
def test_03_word_detector_finds_the_word(root: Path) -> None:
    r = example("03_word_detector", root)
    assert r["loss_last"] < 0.2 * r["loss_first"]
    assert r["f1_before"] < 0.2 and r["f1"] > 0.8  # threshold 0.9 on σ(z)
    assert r["accuracy"] > r["all_zero_accuracy"]  # beats always answering "no"


# ---- 7. bidirectional and deep ---------------------------------------------------------------
def test_07_bidirectional_beats_unidirectional_on_words_that_need_the_future(root: Path) -> None:
    r = example("07_bidirectional_deep", root)
    for kind in ("uni", "uni2", "bi", "deep"):
        assert r[f"{kind}_loss_last"] < r[f"{kind}_loss_first"]
        assert r[f"{kind}_other_accuracy"] > 0.95  # the words the past decides
    assert r["uni_ambiguous_accuracy"] < 0.7  # a guess: the deciding word comes later
    assert r["uni2_ambiguous_accuracy"] < 0.7  # depth does not bring the future in
    assert r["bi_ambiguous_accuracy"] > 0.9 and r["deep_ambiguous_accuracy"] > 0.9
    assert r["bi_accuracy"] > r["uni_accuracy"] + 0.05


# ---- 8. time series --------------------------------------------------------------------------
def test_08_time_series_beats_the_last_value_baseline(root: Path) -> None:
    r = example("08_time_series", root)
    assert r["loss_last"] < 0.2 * r["loss_first"]
    assert r["many_to_one_mse"] < 0.5 * r["many_to_one_baseline_mse"]
    assert r["many_to_many_mse"] < 0.7 * r["many_to_many_baseline_mse"]
    assert r["many_to_many_last_step_mse"] < 0.5 * r["many_to_many_baseline_mse"]
    assert r["many_to_one_mse"] > 0.8 * r["noise_floor"]  # nothing beats the noise
    assert r["free_running_mse"] < 0.2  # fed back in, it still follows the sine


# ---- 4. character-level language model ---------------------------------------------------------
def test_04_char_lm_loss_falls_and_samples_look_like_the_corpus(root: Path) -> None:
    r = example("04_char_lm", root)
    assert r["val_loss_before"] > 0.9 * r["uniform_loss"]  # untrained: about a uniform guess
    assert r["val_loss_after"] < 0.6 * r["val_loss_before"]
    assert r["train_loss_last"] < 0.6 * r["train_loss_first"]
    assert r["log_prob_real"] > r["log_prob_scrambled"] + 10  # a real line is far likelier
    assert r["ended_sample_share"] >= 0.5  # samples stop at the end token
    assert all(isinstance(s, str) for s in r["samples"])
    assert (out_dir(root, "04_char_lm") / "samples.txt").is_file()


def test_04_char_lm_reads_a_text_file_and_rejects_a_missing_one(root: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    text = tmp_path / "t.txt"
    text.write_text("\n".join(["abab", "baba", "abba"] * 10) + "\n", encoding="utf-8")
    missing = subprocess.run([sys.executable, str(EXAMPLES / "04_char_lm.py"), "--quick",
                              "--text", str(tmp_path / "nope.txt"), "--out", str(tmp_path)],
                             capture_output=True, text=True, env=env, timeout=TIMEOUT)
    assert missing.returncode != 0 and "no such file" in missing.stderr
    assert "Traceback" not in missing.stderr
    trained = subprocess.run([sys.executable, str(EXAMPLES / "04_char_lm.py"), "--quick",
                              "--text", str(text), "--out", str(tmp_path / "out")],
                             capture_output=True, text=True, env=env, timeout=TIMEOUT)
    assert trained.returncode == 0, trained.stderr[-2000:]
    r = json.loads(trained.stdout.splitlines()[-1][len("RESULT "):])
    assert r["vocab_size"] == 3  # END, a, b
    assert r["val_loss_after"] < 0.7 * r["val_loss_before"]


# ---- 5. vanishing gradients ----------------------------------------------------------------------
def test_05_gradients_vanish_geometrically_and_short_gaps_are_learned(root: Path) -> None:
    r = example("05_vanishing_gradients", root)
    init = r["grad_ratio_first_last_init"]
    assert init["rnn"] < 1e-5  # ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ over 40 steps: vanished
    assert 0.3 < r["decay_per_step"]["rnn"] < 0.85  # a geometric factor per step back
    # a forget-gate bias of 1 keeps the LSTM's gradient alive orders of magnitude longer
    assert init["lstm_fb1"] > 100 * init["lstm"] and init["lstm_fb1"] > 100 * init["rnn"]
    assert r["decay_per_step"]["lstm_fb1"] > r["decay_per_step"]["lstm"] + 0.1
    learned = r["largest_n_learned"]["adam"]
    assert set(learned) == {"rnn", "gru", "lstm", "lstm_fb1"}
    assert all(n >= 5 for n in learned.values())  # every cell manages the shortest gap
    assert r["accuracy"]["adam"]["rnn"]["5"] > 0.9


# ---- 2. BPTT by hand --------------------------------------------------------------------------
def test_02_engine_contributions_are_the_lectures_path_terms(root: Path) -> None:
    r = example("02_bptt_by_hand", root)
    assert r["terms"] == {"W_s": 3, "W_x": 3, "W_y": 1}  # three paths back; W_y: one step
    assert r["max_term_diff"] < 1e-12  # float64: each use's share == its path term
    assert r["max_total_diff"] < 1e-12
    assert r["general_max_diff"] < 1e-10  # L = Σ_t E_t, longer sequence, batch
    assert r["jacobian_norms"][2] == 1.0  # ∂s_3/∂s_3 = I
    assert r["graphs"] == 2
    dots = sorted(p.name for p in out_dir(root, "02_bptt_by_hand").glob("*.dot"))
    assert dots == ["unrolled_cells.dot", "unrolled_ops.dot"]
    source = (out_dir(root, "02_bptt_by_hand") / "unrolled_ops.dot").read_text(encoding="utf-8")
    assert all(f"t={t}" in source for t in (1, 2, 3)) and "W_s" in source


# ---- 6. clipping and truncation -------------------------------------------------------------
def test_06_clipping_keeps_an_exploding_rnn_finite_and_truncation_changes_the_gradient(
        root: Path) -> None:
    r = example("06_clipping_truncation", root)
    assert r["none_first_nonfinite"] is not None and not r["none_weights_finite"]
    assert r["anomaly"] is not None and r["anomaly"]["t"] is not None  # names a time step
    assert r["max_grad_norm"] > 1e3  # the gradient exploded
    for mode in ("value", "norm"):
        assert r[f"{mode}_first_nonfinite"] is None and r[f"{mode}_weights_finite"]
        assert r[f"{mode}_loss_last"] < 1e-2 * r[f"{mode}_loss_first"]
    T = r["truncation_T"]
    for rel in r["truncation_rel_diff"].values():
        assert rel[str(T)] < 1e-12  # k = T is full BPTT
        assert rel["1"] > 0.05  # k = 1 drops every path back in time
        assert rel["1"] > rel["8"]
    small, large = r["truncation_rel_diff"]["0.5"], r["truncation_rel_diff"]["1.5"]
    assert large["8"] > 2 * small["8"]  # the far paths matter when they do not vanish
    assert r["graph_drawn"]
    dot = out_dir(root, "06_clipping_truncation") / "truncated_graph.dot"
    assert "detach" in dot.read_text(encoding="utf-8")
