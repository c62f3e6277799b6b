"""poll_oneoff's clock deadlines at the end of the 64-bit range (dev/wasi/wasi_poll.c).

The core sleeps on the host's monotonic clock and turns a realtime deadline into a monotonic
one: monotonic now + (deadline - realtime now). For a deadline at the end of the range that
sum wrapped wherever the monotonic clock reads more than the realtime one (a device whose
wall clock was never set counts it from boot, near 0), and a sleep "until the end of time"
fired at once. The hosts here give the core realtime clocks near 1.7e18 ns, so the test
gives one process a clock hook of such a device."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import wasmtime

from wasi_wasm import start_wasi
from wasi_wasm._abi import CLOCK_MONOTONIC, CLOCK_REALTIME, HOOK_CLOCK_TIME_GET
from wasi_wasm._core_memory import U32_MASK
from wasi_wasm._hooks import Hook

EINVAL = 28
SECOND = 1_000_000_000


def test_a_realtime_deadline_at_the_end_of_time_never_fires(
    wasm_program: Callable[..., Path],
) -> None:
    program = wasm_program("poll_far_realtime")
    with start_wasi() as wasi:
        process = wasi._process
        calls: list[int] = []

        def clock(clock_id: int, _precision: int, out: int) -> int:
            now = time.monotonic_ns()
            if clock_id == CLOCK_MONOTONIC:
                now += SECOND  # a monotonic clock that started a second before the wall clock
            elif clock_id != CLOCK_REALTIME:
                return EINVAL
            calls.append(clock_id)
            process.memory.write_u64(out & U32_MASK, now)
            return 0

        i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
        hook = wasmtime.Func(process.store, wasmtime.FuncType([i32, i64, i32], [i32]), clock)
        process.set_hook(cast(Hook, HOOK_CLOCK_TIME_GET), hook)
        instance = wasi.instantiate_program(wasmtime.Module(wasi.engine, program.read_bytes()))
        assert wasi.start(instance) == 0
        assert calls  # the core read the clocks through the hook
        assert wasi.stdout == b"poll: 0, events: 2\n"
