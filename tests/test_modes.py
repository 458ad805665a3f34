"""Thread-pool sizing from the CPU quota."""

from __future__ import annotations

import builtins
import io
import os

import pytest
import torch

from percloss import modes


def test_available_cpus_respects_the_affinity_mask() -> None:
    assert 1 <= modes.available_cpus() <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize(("cpu_max", "expected"), [("150000 100000\n", 1), ("max 100000\n", None)])
def test_a_cgroup_v2_quota_caps_the_count(monkeypatch: pytest.MonkeyPatch, cpu_max: str,
                                          expected: int | None) -> None:
    real_open = builtins.open

    def fake_open(path: object, *args: object, **kwargs: object) -> object:
        if path == "/sys/fs/cgroup/cpu.max":
            return io.StringIO(cpu_max)
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "open", fake_open)
    assert modes.available_cpus() == (expected if expected is not None else len(os.sched_getaffinity(0)))


def test_kernel_path_environment_sets_one_variable_and_clears_the_other(monkeypatch: pytest.MonkeyPatch) -> None:
    from percloss.modes import kernel_path_environment

    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    env = kernel_path_environment("ONEDNN_MAX_CPU_ISA=SSE41")
    assert env["ONEDNN_MAX_CPU_ISA"] == "SSE41" and "ATEN_CPU_CAPABILITY" not in env
    assert not {"ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA"} & set(kernel_path_environment("default"))
    for bad in ("OMP_NUM_THREADS=1", "ONEDNN_MAX_CPU_ISA=", "SSE41"):
        with pytest.raises(ValueError, match="setting must be"):
            kernel_path_environment(bad)


def test_configure_threads_keeps_to_omp_num_threads_when_it_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert modes.configure_threads() == 1  # a caller (a test run beside a book build) holds the pool down
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert modes.configure_threads() == modes.available_cpus()
    finally:
        torch.set_num_threads(before)
