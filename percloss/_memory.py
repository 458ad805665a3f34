"""How much memory a computation may take, and a clear refusal before it takes more.

The losses and analyses whose working memory grows with the audio state it
per second (each docstring; measured by ``benchmarks/bench_memory.py``) and
call :func:`check_memory` with their estimate before allocating, so an input
too long for the machine gets a :class:`InsufficientMemoryError` naming the
input, the estimate and what is available, not an allocator traceback.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

import torch

__all__ = ["InsufficientMemoryError", "available_memory", "check_memory", "format_bytes"]


class InsufficientMemoryError(ValueError, MemoryError):
    """An input whose estimated working memory exceeds what the process can allocate."""


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().split()[0]
    except (OSError, IndexError):
        return None
    return int(text) if text.isdigit() else None


def _host_available() -> int | None:
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    limit, usage = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if limit is None:  # cgroup v1
        limit = _read_int("/sys/fs/cgroup/memory/memory.limit_in_bytes")
        usage = _read_int("/sys/fs/cgroup/memory/memory.usage_in_bytes")
    if limit is not None and usage is not None and limit < 2**60:
        limits.append(max(0, limit - usage))
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        size = None
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmSize:"):
                    size = int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        limits.append(max(0, soft - (size or 0)))
    return min(limits) if limits else None


def available_memory(device: torch.device | str = "cpu") -> int | None:
    """Bytes this process can still allocate on ``device`` (``None`` where the platform does not say).

    CPU: the least of the kernel's ``MemAvailable``, the cgroup's limit less its
    usage, and the address-space limit (``ulimit -v``) less the process's size.
    CUDA: the free memory ``torch.cuda.mem_get_info`` reports.
    ``PERCLOSS_MEMORY_LIMIT`` (bytes) caps the result, to test or to leave room for other work.
    """
    device = torch.device(device)
    if device.type == "cuda":
        free: int | None = int(torch.cuda.mem_get_info(device)[0])
    elif device.type == "cpu":
        free = _host_available()
    else:
        free = None
    cap = os.environ.get("PERCLOSS_MEMORY_LIMIT")
    if cap:
        if not cap.isdigit():
            raise ValueError(f"PERCLOSS_MEMORY_LIMIT must be a number of bytes, got {cap!r}")
        free = int(cap) if free is None else min(free, int(cap))
    return free


def format_bytes(n: float) -> str:
    """``n`` bytes as ``"1.5 GB"`` (decimal units)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def check_memory(estimate: float, what: str, device: torch.device | str = "cpu", hint: str = "") -> None:
    """Raise :class:`InsufficientMemoryError` when ``estimate`` bytes exceed :func:`available_memory`.

    ``what`` names the computation and its input (e.g. ``"MelLoss on input of shape (1, 26460000)"``);
    ``hint`` says how to proceed (e.g. shorter segments).
    """
    free = available_memory(device)
    if free is not None and estimate > free:
        message = (f"{what} needs about {format_bytes(estimate)} of working memory, but only "
                   f"{format_bytes(free)} is available")
        raise InsufficientMemoryError(message + (f": {hint}" if hint else ""))
