"""Part 5: what the figures were measured on."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time
from pathlib import Path

from benchmarks.common import loadavg

PACKAGES = ["torch", "sentence-transformers", "transformers", "chromadb", "llama-index-core",
            "llama-index-vector-stores-chroma", "bm25s", "gradio", "numpy"]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str | None]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def environment() -> dict:
    import psutil
    import torch  # already a dependency of the embedder; imported here only to ask it

    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "versions": versions(),
        "loadavg_start": loadavg(),
    }
