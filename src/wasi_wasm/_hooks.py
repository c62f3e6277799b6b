"""The host hooks a core instance imports from `env` (DESIGN.md, "Core ABI: host hooks")."""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable
from typing import Literal

from . import _abi, _lazy_host
from ._core_memory import U32_MASK, CoreMemory
from ._errno import EINVAL, EIO, SUCCESS
from ._stdio import InputSource, OutputSink


class WasiExit(Exception):  # noqa: N818 - the name says what happened: the program exited
    """The program called proc_exit; ``code`` is its exit status."""

    def __init__(self, code: int) -> None:
        super().__init__(f"WASI program exited with code {code}")
        self.code = code


class Hook(enum.IntEnum):
    """The hooks the host replaces in a core instance's table when it binds a program's
    memory (the others stay the instance's imports), numbered as wasi_wasm_hook_index takes
    them (every hook: ``_abi.HOOK_*``)."""

    COPY_IN = _abi.HOOK_COPY_IN
    COPY_OUT = _abi.HOOK_COPY_OUT
    GUEST_PAGES = _abi.HOOK_GUEST_PAGES


STDOUT_FD = 1
STDERR_FD = 2

# WASI clock ids -> (clock reader, resolution in ns).
_CLOCK_NAMES: tuple[Literal["time", "monotonic", "process_time", "thread_time"], ...] = (
    "time",
    "monotonic",
    "process_time",
    "thread_time",
)
_CLOCK_READERS: tuple[Callable[[], int], ...] = (
    time.time_ns,
    time.monotonic_ns,
    time.process_time_ns,
    time.thread_time_ns,
)
_CLOCK_RESOLUTIONS = tuple(
    max(1, round(time.get_clock_info(name).resolution * 1e9)) for name in _CLOCK_NAMES
)


class ProcessHooks:
    """The Python side of one core instance: its stdio and the OS services it asks for.

    Exceptions from a user's output callback are kept in ``deferred_error`` instead of
    propagating: the core may hold its filesystem lock while delivering output, and unwinding
    through it would leave the lock held for every other process."""

    def __init__(
        self, memory: CoreMemory, stdout: OutputSink, stderr: OutputSink, stdin: InputSource
    ) -> None:
        self.memory = memory
        self.stdout = stdout
        self.stderr = stderr
        self.stdin = stdin
        self.deferred_error: BaseException | None = None
        self.exit_code: int | None = None
        self.return_on_exit = False  # set while Wasi.start runs the program

    # -- stdio ---------------------------------------------------------------------------
    def output(self, fd: int, ptr: int, length: int) -> None:
        sink = self.stdout if fd == STDOUT_FD else self.stderr if fd == STDERR_FD else None
        if sink is None or self.deferred_error is not None:
            return
        try:
            sink.deliver(self.memory.read(ptr, length))
        except BaseException as error:  # re-raised by Wasi.flush after the call
            self.deferred_error = error

    def input(self, ptr: int, length: int) -> int:
        # Called without the lock held, so a KeyboardInterrupt may unwind from here.
        length &= U32_MASK
        try:
            data = self.stdin.read(length)
        except OSError:
            return -EIO
        self.memory.write(ptr, data[:length])
        return min(len(data), length)

    # -- clocks and randomness (WASI semantics, results written into core memory) --------
    def clock_time_get(self, clock_id: int, _precision: int, out_ptr: int) -> int:
        if not 0 <= clock_id < len(_CLOCK_READERS):
            return EINVAL
        self.memory.write_u64(out_ptr, _CLOCK_READERS[clock_id]())
        return SUCCESS

    def clock_res_get(self, clock_id: int, out_ptr: int) -> int:
        if not 0 <= clock_id < len(_CLOCK_RESOLUTIONS):
            return EINVAL
        self.memory.write_u64(out_ptr, _CLOCK_RESOLUTIONS[clock_id])
        return SUCCESS

    def random_get(self, ptr: int, length: int) -> int:
        self.memory.write(ptr, os.urandom(length & U32_MASK))
        return SUCCESS

    def exit(self, code: int) -> None:
        # The core calls this with no lock held and stdio flushed: unwinding is safe.
        code &= U32_MASK  # WASI's exit code is a u32; wasmtime hands it over as a signed i32
        self.exit_code = code
        if self.return_on_exit:
            # The core traps (unreachable) right after a returning exit hook, so no Python
            # exception travels through wasmtime-py's one global "last exception", where a
            # trap in another thread at the same moment would pick it up as its own.
            return
        raise WasiExit(code)

    # -- copy hooks before any program memory is bound ------------------------------------
    # guest_pages() = 0 makes the core reject every guest pointer, so the copies never run.
    def unbound_copy(self, _dst: int, _src: int, _length: int) -> None:
        return None

    def unbound_guest_pages(self) -> int:
        return 0

    def by_import_name(self) -> dict[str, Callable[..., object]]:
        return {
            "copy_in": self.unbound_copy,
            "copy_out": self.unbound_copy,
            "guest_pages": self.unbound_guest_pages,
            "output": self.output,
            "input": self.input,
            "clock_time_get": self.clock_time_get,
            "clock_res_get": self.clock_res_get,
            "random_get": self.random_get,
            "exit": self.exit,
            "cpu_clock_time_get": self.clock_time_get,
            **_lazy_host.hooks_for(self.memory),  # lazy host mounts
        }
