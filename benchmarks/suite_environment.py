"""The environment table of the benchmark report: machine, load, libraries, threads, commit."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: suite.py imports this module
    from suite import Config


def environment(cfg: Config) -> list[tuple[str, str]]:
    env: list[tuple[str, str]] = []
    env.append(("date", time.strftime("%Y-%m-%d %H:%M:%S %Z")))
    env.append(("command", cfg.command))
    env.append(("Python", f"{platform.python_version()} ({platform.python_implementation()})"))
    env.append(("platform", platform.platform()))
    env.append(("CPU", _cpu_model()))
    cores = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    env.append(("cores", f"{cores} (usable by this process: {usable})"))
    try:
        env.append(("load average at start (1, 5, 15 min)",
                    ", ".join(f"{v:.2f}" for v in os.getloadavg())))
    except OSError:
        pass
    env.append(("numpy", np.__version__))
    env.append(("BLAS", _blas_info()))
    env.append(("threads requested (--threads)",
                str(cfg.threads) if cfg.threads else "library defaults"))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "OPENBLAS_CORETYPE"):
        env.append((var, os.environ.get(var, "(unset)")))
    for name, version in _versions().items():
        env.append((name, version))
    return env


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info

        pools = threadpool_info()
        return "; ".join(
            f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')}, "
            f"{p.get('num_threads')} threads, {Path(p.get('filepath', '')).name})"
            for p in pools) or "threadpoolctl found no BLAS/OpenMP pool"
    except ImportError:
        pass
    try:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        text = f"{blas.get('name', '?')} {blas.get('version', '?')}"
        if blas.get("openblas configuration"):
            text += f" [{blas['openblas configuration']}]"
        return text + " (numpy.show_config; pip install threadpoolctl for thread counts)"
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"


def _versions() -> dict[str, str]:
    out = {}
    try:
        import torch

        out["torch"] = f"{torch.__version__} ({torch.get_num_threads()} intra-op threads)"
    except Exception:
        out["torch"] = "not installed"
    try:
        from importlib.metadata import version

        out["autograd"] = version("autograd")
    except Exception:
        out["autograd"] = "not installed"
    try:
        import tinygrad_rnn

        out["tinygrad_rnn"] = getattr(tinygrad_rnn, "__version__", "?")
    except Exception as exc:
        out["tinygrad_rnn"] = f"not importable ({type(exc).__name__})"
    try:
        root = Path(__file__).resolve().parents[1]
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if commit:
            out["git commit"] = commit + (" (working tree has uncommitted changes)"
                                          if dirty else "")
    except Exception:
        pass
    return out
