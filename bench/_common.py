"""What every bench script sets up first: this checkout's code on the path, one OpenMP thread.

Imported before anything of the project (`import _common` as the first import of a script run as
`.venv/bin/python bench/x.py`): the script's own folder is on `sys.path`, the repository is not,
and the shared venv's editable install points at another checkout. PYTHONPATH carries the same
order to the servers and jobs a bench starts, so they run this checkout's code too.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PATHS = [str(ROOT / "src"), str(ROOT)]
sys.path[:0] = _PATHS
os.environ["PYTHONPATH"] = os.pathsep.join([*_PATHS, *filter(None, [os.environ.get("PYTHONPATH")])])
# Before sklearn loads OpenMP: tiny fits and predictions are fastest single-threaded.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def timed(work: Callable[[], object]) -> float:
    """Seconds one call of `work` takes."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def best(run: Callable[[], float], repeat: int) -> float:
    """The fastest of `repeat` runs: the one the neighbours' load disturbed least."""
    return min(run() for _ in range(repeat))
