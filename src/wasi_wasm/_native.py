"""The hook functions every core instance of a Store shares, made once per Store.

The clock and random hooks are wasmtime's own WASI functions: native code that writes into
the caller's exported "memory", which for a call from the core is the core's shared memory,
so a clock read costs nanoseconds instead of the microseconds of a Python host function.
They are passed as the core's imports (the core's table slots start out holding its imports),
so no slot has to be set after instantiation. The CPU-time clocks, which wasmtime's WASI
lacks, stay in Python (hook 9, per process).

The copy hooks of a process whose program memory is not bound yet are shared too: they never
run, because guest_pages() = 0 makes the core reject every guest pointer."""

from __future__ import annotations

import threading

import wasmtime

from ._bridge import COPY_TYPE, PAGES_TYPE
from ._wasmtime_private import linker_func

# Core import name = wasmtime WASI function name.
_NATIVE_HOOKS = tuple(
    (name, name.encode()) for name in ("clock_time_get", "clock_res_get", "random_get")
)
_WASI = b"wasi_snapshot_preview1"
_linkers: dict[int, wasmtime.Linker] = {}
_linkers_lock = threading.Lock()


def _linker(engine: wasmtime.Engine) -> wasmtime.Linker:
    with _linkers_lock:
        linker = _linkers.get(id(engine))
        if linker is None:
            linker = wasmtime.Linker(engine)
            linker.define_wasi()
            _linkers[id(engine)] = linker
        return linker


def _unbound_copy(_dst: int, _src: int, _length: int) -> None:
    return None


def _unbound_guest_pages() -> int:
    return 0


def store_hooks(store: wasmtime.Store, engine: wasmtime.Engine) -> dict[str, wasmtime.Func]:
    """Hook functions for every core instance in ``store``, by the core's import name
    (``store`` gets an empty WASI context for the native ones)."""
    store.set_wasi(wasmtime.WasiConfig())
    linker = _linker(engine)
    functions: dict[str, wasmtime.Func] = {}
    for name, raw_name in _NATIVE_HOOKS:
        # Linker.get, without its string buffers and wrapping (this runs for every Store).
        found = linker_func(linker, store, _WASI, raw_name)
        if found is None:
            raise RuntimeError(f"wasmtime's WASI lacks {name}")
        functions[name] = found
    copy = wasmtime.Func(store, COPY_TYPE, _unbound_copy)
    functions["copy_in"] = functions["copy_out"] = copy
    functions["guest_pages"] = wasmtime.Func(store, PAGES_TYPE, _unbound_guest_pages)
    return functions
