"""Where the benchmark data is: $VNERTEACH_BENCH_DATA, else ../shared/data beside the repository (never copied in)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_ENV = "VNERTEACH_BENCH_DATA"


def data_dir() -> Path:
    """The benchmark data folder (CoNLL-2003, FUNSD, SROIE); exits with a message when it is missing."""
    path = Path(os.environ.get(DATA_ENV) or ROOT.parent / "shared" / "data")
    if not path.is_dir():
        sys.exit(f"Benchmark data not found at {path}: set ${DATA_ENV} to the folder with conll2003/, funsd/, sroie/")
    return path
