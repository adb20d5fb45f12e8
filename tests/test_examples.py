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
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TIMEOUT = 600  # seconds per example: far above the README's bound, so that check can report

_pool = ThreadPoolExecutor(max_workers=2)
_runs: dict[tuple[str, tuple[str, ...]], Future] = {}
_seconds: dict[tuple[str, tuple[str, ...]], float] = {}  # wall-clock time of each run
_cpu: dict[tuple[str, tuple[str, ...]], float] = {}  # CPU time (user + system) of each run


def _run(name: str, extra: tuple[str, ...], out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = env["MKL_NUM_THREADS"] = "1"
    env["MPLBACKEND"] = "Agg"
    args = [sys.executable, str(EXAMPLES / f"{name}.py"), "--quick", "--out", str(out), *extra]
    # Output goes to files and the child is reaped with os.wait4, which returns the CPU time
    # of this one child: the pool runs two examples at once, so RUSAGE_CHILDREN would mix them.
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=stdout, stderr=stderr, env=env, cwd=str(out.parent))
        timer = threading.Timer(TIMEOUT, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        _seconds[(name, extra)] = time.perf_counter() - start
        _cpu[(name, extra)] = usage.ru_utime + usage.ru_stime
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        return subprocess.CompletedProcess(args, proc.returncode,
                                           stdout.read().decode("utf-8", "replace"),
                                           stderr.read().decode("utf-8", "replace"))


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


# ---- the figures quoted in examples/README.md come from a fresh run ---------------------------
README = EXAMPLES / "README.md"
NUMBER = r"(−?[\d.]+(?:e[-+]?\d+)?)"


def readme_part(name: str) -> str:
    """The README's table row for ``name``; for 05, its "What 05 measured" section too."""
    text = README.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith(f"| `python examples/{name}.py")]
    assert len(rows) == 1, f"examples/README.md has {len(rows)} table rows for {name}"
    if name == "05_vanishing_gradients":
        return rows[0] + "\n" + text.split("## What 05 measured", 1)[1].split("**Full mode**")[0]
    return rows[0]


def quoted(name: str, pattern: str) -> float:
    """The one number ``pattern`` (with NUMBER in it) finds in the README's part for ``name``."""
    found = re.findall(pattern.replace("NUM", NUMBER), readme_part(name))
    assert len(found) == 1, (f"examples/README.md, {name}: {pattern!r} matched {len(found)} "
                             f"times (the wording changed? update QUOTED in this test)")
    return float(found[0].replace("−", "-"))


# example, pattern in its README part (NUM = the number), path in RESULT, scale (100 for a
# percentage), relative and absolute tolerance. Data-only figures are tight; a training
# outcome may move on another CPU's BLAS kernel, so its tolerance is wider.
QUOTED: list[tuple[str, str, tuple[str, ...], float, float, float]] = [
    ("01_feedforward", r"max \\\|engine − hand formula\\\| = NUM", ("grad_max_abs_diff",), 1, 0,
     1e-10),
    ("01_feedforward", r"regression validation MSE NUM", ("regression_val_mse",), 1, 0.5, 0),
    ("01_feedforward", r"vs NUM for predicting the mean", ("regression_mean_baseline_mse",), 1,
     0.01, 0),
    ("01_feedforward", r"stopped at epoch NUM", ("regression_stopped_epoch",), 1, 0, 30),
    ("01_feedforward", r"best NUM\)", ("regression_best_epoch",), 1, 0, 30),
    ("01_feedforward", r"classification validation accuracy NUM", ("classification_val_accuracy",),
     1, 0, 0.05),
    ("02_bptt_by_hand", r"differences ≤ NUM", ("max_term_diff",), 1, 0, 1e-13),
    ("02_bptt_by_hand", r"batch 4: NUM", ("general_max_diff",), 1, 0, 1e-12),
    ("03_word_detector", r"loss NUM →", ("loss_first",), 1, 0.05, 0),
    ("03_word_detector", r"→ NUM; test F1", ("loss_last",), 1, 1.0, 0.01),
    ("03_word_detector", r"test F1 NUM", ("f1",), 1, 0, 0.05),
    ("03_word_detector", r"precision NUM", ("precision",), 1, 0, 0.05),
    ("03_word_detector", r"recall NUM", ("recall",), 1, 0, 0.05),
    ("03_word_detector", r"per-step accuracy NUM", ("accuracy",), 1, 0, 0.01),
    ("03_word_detector", r"vs NUM for always", ("all_zero_accuracy",), 1, 0, 0.002),
    ("04_char_lm", r"validation loss NUM →", ("val_loss_before",), 1, 0.02, 0.005),
    ("04_char_lm", r"→ NUM nats/char", ("val_loss_after",), 1, 0.1, 0.005),
    ("04_char_lm", r"\(uniform NUM\)", ("uniform_loss",), 1, 0, 0.005),
    ("04_char_lm", r"log P\(real name\) NUM", ("log_prob_real",), 1, 0, 5),
    ("04_char_lm", r"vs NUM scrambled", ("log_prob_scrambled",), 1, 0, 15),
    ("05_vanishing_gradients", r"NUM \(RNN\), ", ("decay_per_step", "rnn"), 1, 0, 0.03),
    ("05_vanishing_gradients", r"NUM \(GRU\), ", ("decay_per_step", "gru"), 1, 0, 0.03),
    ("05_vanishing_gradients", r"NUM \(LSTM\) —", ("decay_per_step", "lstm"), 1, 0, 0.03),
    ("05_vanishing_gradients", r"raises the factor to NUM", ("decay_per_step", "lstm_fb1"), 1, 0,
     0.03),
    ("05_vanishing_gradients", r"\(NUM over 40 steps", ("grad_ratio_first_last_init", "lstm_fb1"),
     1, 0.5, 0),
    ("05_vanishing_gradients", r"almost no loss \(ratio ‖∂L/∂h_1‖/‖∂L/∂h_T‖ of NUM\)",
     ("grad_ratio_first_last_trained", "gru"), 1, 0.5, 0),
    ("05_vanishing_gradients", r"keeps NUM of it", ("grad_ratio_first_last_trained", "lstm_fb1"),
     1, 0.9, 0),
    ("06_clipping_truncation", r"gradient norm NUM", ("max_grad_norm",), 1, 0.1, 0),
    ("06_clipping_truncation", r"Pow at t = NUM", ("anomaly", "t"), 1, 0, 0),
    ("06_clipping_truncation", r"NaN weights from step NUM", ("none_first_nonfinite",), 1, 0, 0),
    ("06_clipping_truncation", r"by value: loss NUM", ("value_loss_first",), 1, 0.05, 0),
    ("06_clipping_truncation", r"by value: loss [\d.e]+ → NUM", ("value_loss_last",), 1, 0.5, 0),
    ("06_clipping_truncation", r"by norm: → NUM", ("norm_loss_last",), 1, 0.5, 0),
    ("06_clipping_truncation", r"k = 1 changes the gradient by NUM %",
     ("truncation_rel_diff", "0.5", "1"), 100, 0.1, 0),
    ("06_clipping_truncation", r"\(ρ ≈ 0.5\) / NUM %", ("truncation_rel_diff", "1.5", "1"), 100,
     0.1, 0),
    ("06_clipping_truncation", r"k = 8 by NUM %", ("truncation_rel_diff", "0.5", "8"), 100, 0.1, 0),
    ("06_clipping_truncation", r"k = 8 by [\d.]+ % / NUM %", ("truncation_rel_diff", "1.5", "8"),
     100, 0.1, 0),
    ("07_bidirectional_deep", r"ambiguous words: NUM /", ("uni_ambiguous_accuracy",), 1, 0, 0.1),
    ("07_bidirectional_deep", r"ambiguous words: [\d.]+ / NUM", ("uni2_ambiguous_accuracy",), 1, 0,
     0.1),
    ("07_bidirectional_deep", r"help\) vs NUM /", ("bi_ambiguous_accuracy",), 1, 0, 0.05),
    ("07_bidirectional_deep", r"help\) vs [\d.]+ / NUM", ("deep_ambiguous_accuracy",), 1, 0, 0.05),
    ("07_bidirectional_deep", r"overall NUM vs", ("uni_accuracy",), 1, 0, 0.05),
    ("07_bidirectional_deep", r"overall [\d.]+ vs NUM", ("bi_accuracy",), 1, 0, 0.05),
    ("08_time_series", r"many-to-one NUM", ("many_to_one_mse",), 1, 0.3, 0),
    ("08_time_series", r"many-to-many NUM", ("many_to_many_mse",), 1, 0.3, 0),
    ("08_time_series", r"\(NUM at the last step\)", ("many_to_many_last_step_mse",), 1, 0.3, 0),
    ("08_time_series", r"vs NUM for the last-value", ("many_to_one_baseline_mse",), 1, 0.05, 0),
    ("08_time_series", r"noise floor NUM", ("noise_floor",), 1, 0.01, 0),
    ("08_time_series", r"free-running: NUM", ("free_running_mse",), 1, 0.3, 0),
]


def _lookup(result: dict[str, Any], path: tuple[str, ...]) -> float:
    value: Any = result
    for key in path:
        value = value[key]
    return float(value)


def mismatches(name: str, result: dict[str, Any]) -> list[str]:
    """The README's figures for ``name`` that its fresh RESULT does not match."""
    wrong = []
    for example_name, pattern, path, scale, rel, abs_tol in QUOTED:
        if example_name != name:
            continue
        want, got = quoted(name, pattern), scale * _lookup(result, path)
        if abs(got - want) > rel * abs(want) + abs_tol:
            wrong.append(f"{'/'.join(path)}: README says {want:g}, the run gave {got:.4g} "
                         f"(tolerance rel {rel:g}, abs {abs_tol:g}; pattern {pattern!r})")
    return wrong


@pytest.mark.parametrize("name", sorted(ALL))
def test_readme_figures_match_a_fresh_run(root: Path, name: str) -> None:
    result = example(name, root)
    wrong = mismatches(name, result)
    assert not wrong, f"examples/README.md is out of date for {name}:\n" + "\n".join(wrong)


def test_readme_quick_table_of_05_matches_a_fresh_run(root: Path) -> None:
    result = example("05_vanishing_gradients", root)
    gaps = result["gaps"]
    table = readme_part("05_vanishing_gradients").split("**Quick mode**", 1)[1]
    rows = {"RNN (tanh)": "rnn", "GRU": "gru", "LSTM": "lstm", "LSTM, forget bias 1": "lstm_fb1"}
    header = re.search(r"\| cell \| N = (\d+) \| ((?:\d+ \| )+)largest N learned \|", table)
    assert header is not None, "the quick-mode table of 05 has changed its header"
    assert [int(header.group(1))] + [int(n) for n in header.group(2).split("|")[:-1]] == gaps
    for label, key in rows.items():
        row = re.search(rf"^\| {re.escape(label)} \| (.*) \| (\d+) \|$", table, re.MULTILINE)
        assert row is not None, f"no row {label!r} in the quick-mode table of 05"
        cells = [c.strip() for c in row.group(1).split("|")]
        run = result["accuracy"]["adam"][key]
        for n, cell in zip(gaps, cells, strict=True):
            if cell == "–":
                assert str(n) not in run, f"{label}, N = {n}: the run did train it"
                continue
            assert abs(run[str(n)] - float(cell)) <= 0.35, (
                f"{label}, N = {n}: README {cell}, fresh run {run[str(n)]:.2f}")
        learned, quoted_n = result["largest_n_learned"]["adam"][key], int(row.group(2))
        assert abs(gaps.index(learned) - gaps.index(quoted_n)) <= 1, (
            f"{label}: largest N learned {learned}, README {quoted_n}")


def test_readme_timing_is_an_upper_bound(root: Path) -> None:
    """The README's bound on a --quick run, checked on its CPU time: the wall-clock time of a
    run grows with whatever else the machine is doing (two examples run at once here); the
    CPU time it needs does not, or much less."""
    text = README.read_text(encoding="utf-8")
    bound = re.search(r"each `--quick` run takes at most (\d+) s", text)
    assert bound is not None, "examples/README.md no longer states how long --quick takes"
    for name in ALL:
        example(name, root)
        cpu, wall = _cpu[(name, ())], _seconds[(name, ())]
        assert cpu <= int(bound.group(1)), (
            f"{name} --quick took {cpu:.1f} s of CPU time ({wall:.0f} s wall-clock)")


def test_the_readme_check_catches_a_wrong_figure() -> None:
    good = {"regression_val_mse": 0.0035, "regression_mean_baseline_mse": 0.72,
            "regression_stopped_epoch": 131, "regression_best_epoch": 116,
            "classification_val_accuracy": 1.0, "grad_max_abs_diff": 0.0}
    assert mismatches("01_feedforward", good) == []
    wrong = mismatches("01_feedforward", {**good, "regression_mean_baseline_mse": 0.9})
    assert len(wrong) == 1 and "README says 0.72" in wrong[0]
