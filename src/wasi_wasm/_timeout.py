"""Timeouts for runs: an epoch ticker and a deadline in ticks.

wasmtime interrupts a store when the engine's epoch passes the store's deadline. The engine
is shared by every store of the process, so one ticker thread advances its epoch every TICK
while at least one run has a timeout, and each such run's store gets a deadline of
ceil(timeout / TICK) + 1 ticks (the tick in progress may be nearly over). Deadlines set by
hand (``store.set_epoch_deadline(n)``) count these ticks too while a timed run is going."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import wasmtime

TICK = 0.01  # seconds


def check_timeout(timeout: float | None) -> float | None:
    """``timeout`` as seconds, or a ValueError/TypeError that says what is wrong with it."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds, not {type(timeout).__name__}")
    if not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return float(timeout)


class _Ticker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[int, int] = {}  # id(engine) -> timed runs going on it
        self._stops: dict[int, threading.Event] = {}

    def acquire(self, engine: wasmtime.Engine) -> None:
        key = id(engine)
        with self._lock:
            self._users[key] = self._users.get(key, 0) + 1
            if key in self._stops:
                return
            stop = self._stops[key] = threading.Event()
        thread = threading.Thread(
            target=_tick, args=(engine, stop), name="wasi-wasm epoch ticker", daemon=True
        )
        thread.start()

    def release(self, engine: wasmtime.Engine) -> None:
        key = id(engine)
        with self._lock:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                self._stops.pop(key).set()


def _tick(engine: wasmtime.Engine, stop: threading.Event) -> None:
    while not stop.wait(TICK):
        engine.increment_epoch()


_ticker = _Ticker()


@contextmanager
def time_limit(
    store: wasmtime.Store, engine: wasmtime.Engine, timeout: float | None
) -> Iterator[None]:
    """Within the block, the program in ``store`` is interrupted after ``timeout`` seconds."""
    if timeout is None:
        yield
        return
    store.set_epoch_deadline(math.ceil(timeout / TICK) + 1)
    _ticker.acquire(engine)
    try:
        yield
    finally:
        _ticker.release(engine)
