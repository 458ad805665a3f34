"""Thread-pool sizing from the CPU quota."""

from __future__ import annotations

import builtins
import io
import os

import pytest

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
