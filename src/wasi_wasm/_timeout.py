"""Stopping runs: a time limit (``timeout``) and a stop event, checked at every epoch tick.

wasmtime interrupts a store when the engine's epoch passes the store's deadline. The engine
is shared by every store of the process, so one ticker thread advances its epoch every TICK
while at least one run can be stopped. Such a run's store has a deadline of one tick, and its
deadline callback (``_interrupt``) asks the run's ``Stop`` at every tick whether it is due:
by the wall clock, so a run is stopped within a tick of its time whatever else advances the
epoch, and by an event that another thread or a signal watcher sets, which a deadline counted
in ticks could not see. A program waiting in the core (a sleep, a pipe read or write) wakes
every 10 ms to check, so it is stopped as fast as a busy one.

A deadline set by hand on the run's store (``store.set_epoch_deadline(n)``, directly or
passed on from the Wasi it runs for) replaces the run's ``Stop``: it counts ticks as before."""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import wasmtime

from . import _interrupt
from ._engine import NO_DEADLINE

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


def check_stop(timeout: float | None, event: threading.Event | None) -> None:
    """A ValueError/TypeError for a bad ``timeout`` or stop event, before anything runs."""
    check_timeout(timeout)
    if event is not None and not isinstance(event, threading.Event):
        raise TypeError(f"stop must be a threading.Event, not {type(event).__name__}")


@dataclasses.dataclass(frozen=True)
class Stop:
    """When a run is interrupted: once ``time.monotonic()`` reaches ``expires``, or once
    ``event`` is set, whichever comes first."""

    expires: float | None
    event: threading.Event | None

    @classmethod
    def after(cls, timeout: float | None, event: threading.Event | None) -> Stop | None:
        """The Stop of a run given ``timeout`` seconds from now and ``event`` (None when it
        has neither)."""
        check_stop(timeout, event)
        seconds = check_timeout(timeout)
        if seconds is None and event is None:
            return None
        return cls(None if seconds is None else time.monotonic() + seconds, event)

    def due(self) -> bool:
        if self.event is not None and self.event.is_set():
            return True
        return self.expires is not None and time.monotonic() >= self.expires


class _Ticker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[int, int] = {}  # id(engine) -> stoppable runs going on it
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
def stop_when(store: wasmtime.Store, engine: wasmtime.Engine, stop: Stop | None) -> Iterator[None]:
    """Within the block, the program in ``store`` is interrupted (``Interrupted``) within a
    tick of ``stop`` being due."""
    if stop is None:
        yield
        return
    guard = _interrupt.guard(store)
    store.set_epoch_deadline(1)  # before should_stop: a deadline set on a WasiStore clears it
    guard.should_stop = stop.due
    _ticker.acquire(engine)
    try:
        yield
    finally:
        _ticker.release(engine)
        guard.should_stop = None
        # The host's own calls that follow (closing the process) are not the program's.
        store.set_epoch_deadline(NO_DEADLINE)
