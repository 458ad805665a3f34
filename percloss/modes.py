"""Run modes shared by every chapter: ``quick``, ``standard`` and ``full``.

The mode is read from the ``PERCLOSS_MODE`` environment variable.
"""

from __future__ import annotations

import os

import torch

MODES: tuple[str, ...] = ("quick", "standard", "full")
DEFAULT_MODE = "standard"


def current_mode() -> str:
    """Return the run mode named by ``PERCLOSS_MODE`` (Default: ``"standard"``).

    Raises:
        ValueError: if the variable is set to something other than a known mode.

    >>> import os
    >>> os.environ["PERCLOSS_MODE"] = "quick"
    >>> current_mode()
    'quick'
    >>> del os.environ["PERCLOSS_MODE"]
    """
    mode = os.environ.get("PERCLOSS_MODE", DEFAULT_MODE).strip().lower() or DEFAULT_MODE
    if mode not in MODES:
        raise ValueError(f"PERCLOSS_MODE must be one of {MODES}, got {mode!r}")
    return mode


def default_device() -> torch.device:
    """The device chapters run on: CUDA when available, else the CPU.

    ``PERCLOSS_DEVICE`` overrides the choice (e.g. ``cpu`` on a GPU machine).
    """
    name = os.environ.get("PERCLOSS_DEVICE")
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup CPU quota (v2 or v1) if one is set.

    ``os.cpu_count()`` reports the host's cores; in a container limited to a
    quota of 2 CPUs, a thread pool sized to 64 cores spends its time waiting.
    """
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = None
    try:
        text = open("/sys/fs/cgroup/cpu.max").read().split()
        if text and text[0] != "max":
            quota = float(text[0]) / float(text[1])
    except (OSError, ValueError, IndexError):
        try:
            q = float(open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read())
            period = float(open("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read())
            if q > 0 and period > 0:
                quota = q / period
        except (OSError, ValueError):
            pass
    if quota is not None:
        n = min(n, max(1, int(quota)))
    return max(1, n)


def configure_threads() -> int:
    """Size torch's CPU thread pool to :func:`available_cpus` unless ``OMP_NUM_THREADS`` is set; returns it."""
    if not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(available_cpus())
    return torch.get_num_threads()


def describe_device(device: torch.device) -> str:
    """A human-readable description of ``device`` for the record on each page."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'s' if threads != 1 else ''})"


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``), else ``platform.processor()``, else the architecture."""
    import platform

    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> str:
    """What a stored result records of the machine that computed it: CPU model, architecture, the SIMD
    level torch's kernels run at, threads and torch version.

    >>> "torch threads" in machine_description()
    True
    """
    import platform

    capability = torch.backends.cpu.get_cpu_capability()
    threads = torch.get_num_threads()
    return (f"{cpu_model()} ({platform.machine()}, torch kernels {capability}), {threads} torch "
            f"thread{'s' if threads != 1 else ''}, torch {torch.__version__}")


#: The environment variables that choose torch's CPU kernel paths: ATen's SIMD level and oneDNN's (the
#: convolutions).
KERNEL_PATH_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")


def kernel_path_environment(setting: str) -> dict[str, str]:
    """This process's environment for a child that runs on the kernel path ``setting``: ``"default"`` (the
    CPU's own choice) or ``"NAME=VALUE"`` of one of :data:`KERNEL_PATH_VARIABLES`; the others are unset.

    >>> kernel_path_environment("ONEDNN_MAX_CPU_ISA=SSE41")["ONEDNN_MAX_CPU_ISA"]
    'SSE41'
    """
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_PATH_VARIABLES}
    if setting != "default":
        name, _, value = setting.partition("=")
        if name not in KERNEL_PATH_VARIABLES or not value:
            raise ValueError(f"setting must be 'default' or NAME=VALUE with NAME in {KERNEL_PATH_VARIABLES}, "
                             f"got {setting!r}")
        env[name] = value
    return env
