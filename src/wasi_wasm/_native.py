"""wasmtime's own WASI clock and random functions, plugged into the core's hook slots.

They are native code and write into the caller's exported "memory", which for a call from
the core is the core's shared memory: a clock read costs nanoseconds instead of the
microseconds of a Python host function. The CPU-time clocks, which wasmtime's WASI lacks,
stay in Python (hook 9)."""

from __future__ import annotations

import wasmtime

from ._hooks import Hook

_NATIVE_HOOKS = {
    Hook.CLOCK_TIME_GET: "clock_time_get",
    Hook.CLOCK_RES_GET: "clock_res_get",
    Hook.RANDOM_GET: "random_get",
}
_linkers: dict[int, wasmtime.Linker] = {}


def _linker(engine: wasmtime.Engine) -> wasmtime.Linker:
    linker = _linkers.get(id(engine))
    if linker is None:
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        _linkers[id(engine)] = linker
    return linker


def native_hooks(store: wasmtime.Store, engine: wasmtime.Engine) -> dict[Hook, wasmtime.Func]:
    """The native functions for ``store`` (which gets an empty WASI context for them)."""
    store.set_wasi(wasmtime.WasiConfig())
    linker = _linker(engine)
    functions: dict[Hook, wasmtime.Func] = {}
    for hook, name in _NATIVE_HOOKS.items():
        function = linker.get(store, "wasi_snapshot_preview1", name)
        assert isinstance(function, wasmtime.Func)
        functions[hook] = function
    return functions
