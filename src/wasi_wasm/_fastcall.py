"""Calls into wasm without wasmtime-py's per-call overhead, for the host's own calls.

wasmtime-py's ``Func.__call__`` asks wasmtime for the function's type and converts every
argument through ``Val`` on each call (13-20 us), ``Instance.exports`` wraps every export of
an instance at once (about 0.5 ms for the core's 70) and ``Table.set`` looks the table's type
up each time. The host knows its signatures: it reads them once per module, looks exports up
by name when first needed, and calls with ``wasmtime_func_call_unchecked`` (about 2 us).

Errors surface as ``Func.__call__`` raises them: an exception a Python host function raised
during the call (wasmtime-py hands it over through ``wasmtime._func``'s one global), else
``wasmtime.Trap`` for a trap and ``wasmtime.WasmtimeError`` for an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from ctypes import POINTER, byref
from typing import Any, cast

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime._func import maybe_raise_last_exn

_RawValue = ffi.wasmtime_val_raw_t
_I32 = "i32"
_I64 = "i64"


class RawFunc:
    """A function export called with ``wasmtime_func_call_unchecked``.

    ``wide[i]``: parameter i is an i64 (else i32); ``result``: None, "i32" or "i64".
    i32 results come back signed, as from ``Func.__call__``."""

    __slots__ = ("_array", "_size", "func", "result", "wide")

    def __init__(self, func: ffi.wasmtime_func_t, wide: tuple[bool, ...], result: str | None):
        self.func = func
        self.wide = wide
        self.result = result
        self._size = max(len(wide), 1)  # arguments in, then the result out, in one array
        self._array = _RawValue * self._size

    def __call__(self, store: wasmtime.Store, *args: int) -> int | None:
        wide = self.wide
        if len(args) != len(wide):
            raise wasmtime.WasmtimeError(
                f"wrong number of parameters: given {len(args)}, expected {len(wide)}"
            )
        values = self._array()
        for index, arg in enumerate(args):
            if wide[index]:
                values[index].i64 = arg
            else:
                values[index].i32 = arg
        trap = POINTER(ffi.wasm_trap_t)()
        error = ffi.wasmtime_func_call_unchecked(
            store._context(), byref(self.func), values, self._size, byref(trap)
        )
        if error or trap:
            _raise_failure(error, trap)
        if self.result is None:
            return None
        return int(values[0].i64 if self.result == _I64 else values[0].i32)

    def as_func(self) -> wasmtime.Func:
        """The same function as a wasmtime-py ``Func`` (for imports and for users)."""
        return wasmtime.Func._from_raw(self.func)


Importable = wasmtime.Func | wasmtime.Memory | wasmtime.SharedMemory | wasmtime.Table


def instantiate(
    store: wasmtime.Store, module: wasmtime.Module, imports: Sequence[Importable]
) -> wasmtime.Instance:
    """``wasmtime.Instance(store, module, imports)``, without the import statement that
    wasmtime-py runs for every import it converts."""
    externs = (ffi.wasmtime_extern_t * len(imports))()
    for index, item in enumerate(imports):
        externs[index] = item._as_extern()
    instance = ffi.wasmtime_instance_t()
    trap = POINTER(ffi.wasm_trap_t)()
    error = ffi.wasmtime_instance_new(
        store._context(), module.ptr(), externs, len(imports), byref(instance), byref(trap)
    )
    _raise_failure(error, trap)
    return wasmtime.Instance._from_raw(instance)


def _raise_failure(error: Any, trap: Any) -> None:
    """Raise what a call into wasm that returned ``error`` / ``trap`` failed with, as
    wasmtime-py does (an exception of a Python host function first)."""
    if error:
        failure = wasmtime.WasmtimeError._from_ptr(error)
        maybe_raise_last_exn()
        raise failure
    if trap:
        trapped = wasmtime.Trap._from_ptr(trap)
        maybe_raise_last_exn()
        raise trapped


Signature = tuple[tuple[bool, ...], str | None]


def signature(func_type: wasmtime.FuncType) -> Signature | None:
    """(i64-ness of each parameter, result kind) of a function of i32/i64 parameters and at
    most one i32/i64 result; None for anything else (called through ``Func`` then)."""
    params = [str(kind) for kind in func_type.params]
    results = [str(kind) for kind in func_type.results]
    if any(kind not in (_I32, _I64) for kind in params + results) or len(results) > 1:
        return None
    return tuple(kind == _I64 for kind in params), (results[0] if results else None)


def export(
    store: wasmtime.Store, instance: wasmtime.Instance, name: bytes
) -> ffi.wasmtime_extern_t | None:
    """One export of ``instance`` by name, without wrapping all the others."""
    item = ffi.wasmtime_extern_t()
    found = ffi.wasmtime_instance_export_get(
        store._context(), byref(instance._instance), name, len(name), byref(item)
    )
    return item if found else None


def export_func(
    store: wasmtime.Store, instance: wasmtime.Instance, name: bytes
) -> ffi.wasmtime_func_t | None:
    item = export(store, instance, name)
    if item is None or cast(int, item.kind) != ffi.WASMTIME_EXTERN_FUNC.value:
        return None
    return item.of.func


def export_table(
    store: wasmtime.Store, instance: wasmtime.Instance, name: bytes
) -> ffi.wasmtime_table_t | None:
    item = export(store, instance, name)
    if item is None or cast(int, item.kind) != ffi.WASMTIME_EXTERN_TABLE.value:
        return None
    return item.of.table


def table_set_func(
    store: wasmtime.Store, table: ffi.wasmtime_table_t, index: int, function: wasmtime.Func
) -> None:
    """``Table.set`` for a funcref table, without looking the table's type up."""
    value = ffi.wasmtime_val_t(kind=ffi.WASMTIME_FUNCREF)
    value.of.funcref = function._func
    error = ffi.wasmtime_table_set(store._context(), byref(table), index, byref(value))
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)
