"""Epoch interrupts that never stop the core halfway through a filesystem operation.

wasmtime checks a store's epoch deadline at every function entry and loop header, in the
core's code as in the program's. Left alone, a passed deadline traps wherever it lands:
inside the core that can be between two writes of one operation (an inode linked but its
entry not yet counted), and the shared filesystem would keep the half-done change. So every
store that runs core instances gets an epoch-deadline callback: while one of its instances
holds the filesystem lock, in either mode, or is taking it (the process's busy word, from
wasi_wasm_busy_slot) the callback lets the code run on to the next check (a deadline
delta of 0 re-checks at once), and the first check after the lock is released traps. A lock
is only ever held for short, bounded work and never across a hook, so the deferral is short.

The callback cannot raise wasmtime's own interrupt trap, only an error of its own; the
process that ran the program turns that back into ``Interrupted``, a ``wasmtime.Trap`` whose
``trap_code`` is ``TrapCode.INTERRUPT``.

A run with a timeout or a stop event (``_timeout.stop_when``) is not interrupted by a deadline
counted in ticks: its deadline is one tick away, and at each tick the callback asks the run's
``should_stop`` whether to go on for another tick. A wall-clock time and a flag that any thread
(or a signal's watcher) may set are then both seen within a tick, however the program waits."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import wasmtime

from ._wasmtime_private import (
    DEADLINE_CONTINUE,
    EpochDeadlineCallback,
    load_u32,
    new_error_address,
)

INTERRUPT_MESSAGE = "wasm trap: interrupt"


class Interrupted(wasmtime.Trap):
    """The host stopped the program (its store's epoch deadline passed)."""

    def __init__(self) -> None:
        super().__init__(INTERRUPT_MESSAGE)

    @property
    def trap_code(self) -> wasmtime.TrapCode:
        return wasmtime.TrapCode.INTERRUPT


def is_interrupt(error: BaseException) -> bool:
    """Whether ``error`` (from a call into a store) is an epoch interrupt."""
    if isinstance(error, wasmtime.Trap):
        return error.trap_code == wasmtime.TrapCode.INTERRUPT
    return isinstance(error, wasmtime.WasmtimeError) and INTERRUPT_MESSAGE in str(error)


class StoreGuard:
    """The deadline decisions of one store: it defers interrupts while one of the store's core
    instances holds the filesystem lock, or while the host itself is calling into the core
    (a flush, a close, the filesystem API: the program is not running then), and asks
    ``should_stop`` (when set) whether a reached deadline stops the program."""

    def __init__(self) -> None:
        # host addresses of the busy words of the store's processes (wasi_wasm_busy_slot)
        self.probes: list[int] = []
        self.host_calls = 0
        self.should_stop: Callable[[], bool] | None = None
        # run at each reached deadline while no process of the store is busy and the host
        # is not calling into the core: between two of the processes' calls, never inside
        self.tick_work: list[Callable[[], None]] = []

    def _deadline_reached(self, _context: Any, _key: Any, delta: Any, kind: Any) -> int:
        """The store's epoch deadline was reached: 0 with ``delta`` set to the ticks to run
        on (0: check again at once), or the address of the error that interrupts it."""
        busy = bool(self.host_calls) or self._lock_held()
        if not busy:
            for work in self.tick_work:
                work()
        if self.should_stop is not None and not self.should_stop():
            ticks = 1  # not due yet: look again at the next tick
        elif busy:
            ticks = 0  # due, but never inside a filesystem operation: look again at once
        else:
            return _interrupt_error()
        delta[0] = ticks
        kind[0] = DEADLINE_CONTINUE
        return 0

    def _lock_held(self) -> bool:
        """Whether a process of the store holds or takes the lock, or is otherwise busy
        (its busy word: base/lock.h)."""
        return any(load_u32(address) for address in self.probes)


# Guards stay alive until wasmtime drops their store and calls the finalizer with their key.
# The callback finds its guard by that key: a callback bound to the guard would make a
# reference cycle (guard -> callback -> guard) that only the cycle collector frees.
_guards: dict[int, StoreGuard] = {}
_guards_lock = threading.Lock()
_keys = itertools.count(1)


def _deadline_reached(context: Any, key: int | None, delta: Any, kind: Any) -> int:
    with _guards_lock:
        found = _guards.get(key or 0)
    if found is None:
        return _interrupt_error()
    return found._deadline_reached(context, key, delta, kind)


def _interrupt_error() -> int:
    """A new wasmtime error that interrupts the program, as the callback returns it."""
    return new_error_address(INTERRUPT_MESSAGE)


def _forget(key: int | None) -> None:
    with _guards_lock:
        _guards.pop(key or 0, None)


_callback = EpochDeadlineCallback(_deadline_reached, _forget)


def guard(store: wasmtime.Store) -> StoreGuard:
    """The store's guard, installed on first use."""
    existing: StoreGuard | None = getattr(store, "_wasi_wasm_interrupt_guard", None)
    if existing is not None:
        return existing
    created = StoreGuard()
    key = next(_keys)
    with _guards_lock:
        _guards[key] = created
    _callback.install(store, key)
    store._wasi_wasm_interrupt_guard = created  # type: ignore[attr-defined]
    return created
