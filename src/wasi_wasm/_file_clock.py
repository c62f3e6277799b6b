"""The core's file clock (dev/base/file_clock.h), kept by this process while programs run.

Every file write, create and unlink stamps a time. Read through the clock hook (wasmtime-py's
own WASI ``clock_time_get``) a stamp costs more than a small write itself, and two threads
stamping at once each pay twice as much (docs/HOST_NOTES.md). A kernel stamps files from a
coarse clock instead (Linux: the last tick's time); here one thread stores ``time.time_ns()``
into each running filesystem's clock word every ``TICK_SECONDS``, and the core reads the
word. When no program of a filesystem runs the word is 0 and the core calls the hook."""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

TICK_SECONDS = 0.001
realtime_ns = time.time_ns  # the clock the words follow (a test replaces it)


class _Clocks:
    """The words of the filesystems whose programs run, and the one thread that keeps them.
    Words are written only under ``_lock``, so a released word is never written again after
    it was set to 0 (a stale time would then stand for the clock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[int, int] = {}  # host address of a word -> runs that keep it
        self._thread: threading.Thread | None = None

    def acquire(self, address: int) -> None:
        with self._lock:
            self._users[address] = self._users.get(address, 0) + 1
            _store(address, realtime_ns())
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._keep, name="wasi-wasm file clock", daemon=True
                )
                self._thread.start()

    def release(self, address: int) -> None:
        with self._lock:
            self._users[address] -= 1
            if not self._users[address]:
                del self._users[address]
                _store(address, 0)

    def _keep(self) -> None:
        while True:
            time.sleep(TICK_SECONDS)
            with self._lock:
                if not self._users:
                    self._thread = None
                    return
                now = realtime_ns()
                for address in self._users:
                    _store(address, now)


def _store(address: int, value: int) -> None:
    """One aligned 8-byte store: the core never sees half of an old and half of a new time."""
    ctypes.c_uint64.from_address(address).value = value


_clocks = _Clocks()


@contextmanager
def kept(address: int) -> Iterator[None]:
    """The file clock word at ``address`` follows the realtime clock within the block."""
    _clocks.acquire(address)
    try:
        yield
    finally:
        _clocks.release(address)
