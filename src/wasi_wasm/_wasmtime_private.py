"""Every use of wasmtime-py's private API and of ctypes in the package, in one place.

The host leans on wasmtime-py internals for three reasons (docs/HOST_NOTES.md):

- Speed. ``Func.__call__`` asks wasmtime for the function's type and converts every value
  through ``Val`` on each call (13-20 us), ``Instance.exports`` wraps every export of an
  instance at once (about 0.5 ms for the core's 70), ``Table.set`` looks the table's type up
  each time, ``Instance()`` runs an import statement per import and ``Linker.get`` builds
  string buffers. The host knows its signatures, so it calls ``wasmtime_func_call_unchecked``
  (about 2 us) and the other C functions directly (``RawFunc``, ``instantiate``,
  ``export_func``, ``export_table``, ``table_set_func``, ``linker_func``).
- Missing API. wasmtime-py has no Python API for a store's epoch-deadline callback
  (``EpochDeadlineCallback``), and its memories give their bytes only as ctypes pointers
  (``read_bytes``, ``write_bytes``, ``move_bytes``, ``load_u32``, the ``*_address``
  functions).
- A bug. wasmtime-py (45 to 51 at least) cannot pass a ``SharedMemory`` as an import:
  ``SharedMemory._as_extern`` wraps the pointer once too often, and so does
  ``SharedMemory.size`` (``ImportableSharedMemory``, used only while
  ``SHARED_MEMORY_IMPORT_BUG`` is true: it is found by behaviour, so a fixed wasmtime is used
  as it is).

Errors of a call into wasm surface as ``Func.__call__`` raises them: an exception a Python host
function raised during the call (wasmtime-py hands it over through ``wasmtime._func``'s one
global), else ``wasmtime.Trap`` for a trap and ``wasmtime.WasmtimeError`` for an error.

At import the module checks that what it relies on is there (names, C signatures, a shared
memory read and written through the private path: well under a millisecond) and raises
``UnsupportedWasmtimeError``, an ImportError naming the installed wasmtime-py and the
supported range, when something is not. No other module of the package imports ctypes or a
private wasmtime module, or touches a private attribute of a wasmtime object
(tests/test_layers.py checks it).
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Sequence
from ctypes import POINTER, byref
from typing import Any, cast

import wasmtime

# The range in pyproject.toml (tests/test_wasmtime_private.py checks that they agree).
SUPPORTED_WASMTIME = ">=45.0.0,<51"


class UnsupportedWasmtimeError(ImportError):
    """The installed wasmtime-py lacks or changed an internal the package relies on."""


def _installed_wasmtime() -> str:
    try:
        from importlib.metadata import version  # noqa: PLC0415 (only when failing)

        return version("wasmtime")
    except Exception:  # a broken or unusual installation: still say what we can
        return "unknown version"


def unsupported(problems: Sequence[str]) -> UnsupportedWasmtimeError:
    """The error that says the installed wasmtime-py cannot be used, and why."""
    return UnsupportedWasmtimeError(
        f"wasi-wasm does not work with the installed wasmtime-py {_installed_wasmtime()} "
        f"(supported: wasmtime{SUPPORTED_WASMTIME}). It relies on wasmtime-py internals, and "
        f"these are missing or changed: {'; '.join(problems)}. "
        f"Install a supported version: pip install 'wasmtime{SUPPORTED_WASMTIME}'"
    )


try:
    from wasmtime import _ffi as ffi
    from wasmtime._func import maybe_raise_last_exn
except ImportError as error:  # pragma: no cover - only on an unsupported wasmtime
    raise unsupported([f"{error}"]) from error


# -- calls into wasm -------------------------------------------------------------------------

FuncHandle = ffi.wasmtime_func_t  # a function of some store, as wasmtime's C API names it
TableHandle = ffi.wasmtime_table_t
_RawValue = ffi.wasmtime_val_raw_t
_I32 = "i32"
_I64 = "i64"


class RawFunc:
    """A function export called with ``wasmtime_func_call_unchecked``.

    ``wide[i]``: parameter i is an i64 (else i32); ``result``: None, "i32" or "i64".
    i32 results come back signed, as from ``Func.__call__``."""

    __slots__ = ("_array", "_size", "func", "result", "wide")

    def __init__(self, func: FuncHandle, wide: tuple[bool, ...], result: str | None):
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


Signature = tuple[tuple[bool, ...], str | None]


def signature(func_type: wasmtime.FuncType) -> Signature | None:
    """(i64-ness of each parameter, result kind) of a function of i32/i64 parameters and at
    most one i32/i64 result, as ``RawFunc`` takes them; None for anything else (called
    through ``Func`` then)."""
    params = [str(kind) for kind in func_type.params]
    results = [str(kind) for kind in func_type.results]
    if any(kind not in (_I32, _I64) for kind in params + results) or len(results) > 1:
        return None
    return tuple(kind == _I64 for kind in params), (results[0] if results else None)


# func_from_handle(handle): a wasmtime-py ``Func`` for a function handle (the classmethod
# itself: startup wraps a few dozen handles).
func_from_handle: Callable[[FuncHandle], wasmtime.Func] = wasmtime.Func._from_raw


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


def _export(
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
) -> FuncHandle | None:
    """The function export ``name`` of ``instance`` (None when it is missing or no function)."""
    item = _export(store, instance, name)
    if item is None or cast(int, item.kind) != ffi.WASMTIME_EXTERN_FUNC.value:
        return None
    return item.of.func


def export_table(
    store: wasmtime.Store, instance: wasmtime.Instance, name: bytes
) -> TableHandle | None:
    """The table export ``name`` of ``instance`` (None when it is missing or no table)."""
    item = _export(store, instance, name)
    if item is None or cast(int, item.kind) != ffi.WASMTIME_EXTERN_TABLE.value:
        return None
    return item.of.table


def table_set_func(
    store: wasmtime.Store, table: TableHandle, index: int, function: wasmtime.Func
) -> None:
    """``Table.set`` for a funcref table, without looking the table's type up."""
    value = ffi.wasmtime_val_t(kind=ffi.WASMTIME_FUNCREF)
    value.of.funcref = function._func
    error = ffi.wasmtime_table_set(store._context(), byref(table), index, byref(value))
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)


def linker_func(
    linker: wasmtime.Linker, store: wasmtime.Store, module: bytes, name: bytes
) -> wasmtime.Func | None:
    """``linker.get(store, module, name)`` for a function, without its string buffers and
    wrapping (None when the linker has no such function)."""
    item = ffi.wasmtime_extern_t()
    found = ffi.wasmtime_linker_get(
        linker.ptr(), store._context(), module, len(module), name, len(name), byref(item)
    )
    if not found or cast(int, item.kind) != ffi.WASMTIME_EXTERN_FUNC.value:
        return None
    return func_from_handle(item.of.func)


# -- epoch deadlines -------------------------------------------------------------------------

# wasmtime_store_epoch_deadline_callback's callback: (context, data, *delta, *kind) -> error.
_DeadlineCallback = ctypes.CFUNCTYPE(
    ctypes.c_size_t,
    ctypes.POINTER(ffi.wasmtime_context_t),
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint64),
    ctypes.POINTER(ctypes.c_uint8),
)
_Finalizer = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

DEADLINE_CONTINUE = 0  # wasmtime_update_deadline_kind_t: go on running (YIELD: async stores)
# reached(context, key, delta, kind) -> 0 with delta[0] (ticks to run on) and kind[0] set, or
# the address of a wasmtime error (new_error_address) that interrupts the store.
DeadlineReached = Callable[[Any, "int | None", Any, Any], int]


class EpochDeadlineCallback:
    """A C callback for stores' epoch deadlines, which calls ``reached`` with the key the
    store was given, and ``forget(key)`` when wasmtime drops the store. One object serves
    any number of stores; it must outlive them (keep it in a module global)."""

    def __init__(self, reached: DeadlineReached, forget: Callable[[int | None], None]) -> None:
        self._reached = _DeadlineCallback(reached)
        self._forget = _Finalizer(forget)

    def install(self, store: wasmtime.Store, key: int) -> None:
        """Make this the deadline callback of ``store``, with ``key``."""
        ffi.wasmtime_store_epoch_deadline_callback(
            store.ptr(), self._reached, ctypes.c_void_p(key), self._forget
        )


def new_error_address(message: str) -> int:
    """A new wasmtime error, as a deadline callback returns it (wasmtime takes ownership)."""
    error = ffi.wasmtime_error_new(message.encode())
    return ctypes.cast(error, ctypes.c_void_p).value or 0


# -- memory bytes ----------------------------------------------------------------------------

# Plain aliases of the ctypes functions, so the hot paths (hooks, the fs API and the fallback
# copy functions) pay no extra Python call.
read_bytes: Callable[[int, int], bytes] = ctypes.string_at
"""read_bytes(address, length): the bytes at a host address."""
move_bytes: Callable[[int, int | bytes, int], int] = ctypes.memmove
"""move_bytes(dst, src, length): copy between host addresses (src may be a bytes object)."""


def write_bytes(address: int, data: bytes | bytearray | memoryview) -> None:
    """Copy ``data`` to a host address."""
    length = len(data)
    if not length:
        return
    if isinstance(data, bytes):
        ctypes.memmove(address, data, length)
    else:
        source = (ctypes.c_char * length).from_buffer_copy(data)
        ctypes.memmove(address, source, length)


def load_u32(address: int) -> int:
    """The 32-bit word at a host address."""
    return ctypes.c_uint32.from_address(address).value


def store_u64(address: int, value: int) -> None:
    """One aligned 8-byte store at a host address: a reader never sees half of it."""
    ctypes.c_uint64.from_address(address).value = value


def func_store_id(function: wasmtime.Func) -> int:
    """Which Store ``function`` belongs to. No public call of wasmtime-py says, and wasmtime
    aborts the whole process (a Rust panic) when a function of another Store is used."""
    return int(function._func.store_id)


def shared_memory_address(memory: wasmtime.SharedMemory) -> int:
    """Address of byte 0. Shared memories never move (other threads may be using them)."""
    address = ctypes.cast(memory.data_ptr(), ctypes.c_void_p).value
    assert address is not None
    return address


def memory_address(memory: wasmtime.Memory, store: wasmtime.Store | wasmtime.Caller) -> int:
    """Address of byte 0 of a (non-shared) memory now: it can move when the memory grows."""
    return ctypes.cast(memory.data_ptr(store), ctypes.c_void_p).value or 0


_MADV_HUGEPAGE = 14


def advise_huge_pages(address: int, length: int) -> None:
    """madvise(MADV_HUGEPAGE) on Linux: a hint only; where it is missing nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    madvise = ctypes.CDLL(None).madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    madvise(address, length, _MADV_HUGEPAGE)


# -- the SharedMemory import bug -------------------------------------------------------------


class ImportableSharedMemory(wasmtime.SharedMemory):
    """A SharedMemory that can be passed as an import and reports its size."""

    def _as_extern(self) -> ffi.wasmtime_extern_t:
        # The union's field already has the pointer type: pass the pointer itself.
        union = ffi.wasmtime_extern_union(sharedmemory=self.ptr())
        return ffi.wasmtime_extern_t(ffi.WASMTIME_EXTERN_SHAREDMEMORY, union)

    def size(self) -> int:
        return int(ffi.wasmtime_sharedmemory_size(self.ptr()))


def has_import_bug(memory: wasmtime.SharedMemory) -> bool:
    """True when a plain SharedMemory cannot be turned into an extern (the import path)."""
    try:
        wasmtime.SharedMemory._as_extern(memory)
    except TypeError:
        return True
    return False


def clone_shared_memory(
    memory: wasmtime.SharedMemory, cls: type[wasmtime.SharedMemory]
) -> wasmtime.SharedMemory:
    """A second handle of class ``cls`` to the same shared memory
    (wasmtime_sharedmemory_clone: its own reference count, so each handle frees only itself)."""
    return cls._from_ptr(ffi.wasmtime_sharedmemory_clone(memory.ptr()))


# -- the check at import ---------------------------------------------------------------------

# C functions (through wasmtime._ffi) and how many parameters each takes.
_FUNCTIONS = {
    "wasmtime_func_call_unchecked": 5,
    "wasmtime_instance_new": 6,
    "wasmtime_instance_export_get": 5,
    "wasmtime_table_set": 4,
    "wasmtime_linker_get": 7,
    "wasmtime_store_epoch_deadline_callback": 4,
    "wasmtime_error_new": 1,
    "wasmtime_sharedmemory_clone": 1,
    "wasmtime_sharedmemory_size": 1,
}
_TYPES = {
    "wasmtime_val_raw_t": ("i32", "i64"),
    "wasmtime_extern_union": ("func", "table", "sharedmemory"),
    "wasmtime_val_t": ("kind", "of"),
    "wasmtime_extern_t": ("kind", "of"),
    "wasmtime_func_t": (),
    "wasmtime_table_t": (),
    "wasmtime_instance_t": (),
    "wasmtime_context_t": (),
    "wasm_trap_t": (),
}
_CONSTANTS = (
    "WASMTIME_EXTERN_FUNC",
    "WASMTIME_EXTERN_TABLE",
    "WASMTIME_EXTERN_SHAREDMEMORY",
    "WASMTIME_FUNCREF",
)
_METHODS = {
    wasmtime.Func: ("_from_raw", "_as_extern"),
    wasmtime.Instance: ("_from_raw",),
    wasmtime.Memory: ("_as_extern", "data_ptr"),
    wasmtime.SharedMemory: ("_from_ptr", "_as_extern", "ptr", "data_ptr"),
    wasmtime.Table: ("_as_extern",),
    wasmtime.Store: ("_context", "ptr"),
    wasmtime.Module: ("ptr",),
    wasmtime.Linker: ("ptr",),
    wasmtime.WasmtimeError: ("_from_ptr",),
    wasmtime.Trap: ("_from_ptr",),
}


def _missing_names() -> list[str]:
    problems = []
    for name, arity in _FUNCTIONS.items():
        function = getattr(ffi, name, None)
        code = getattr(function, "__code__", None)
        if function is None:
            problems.append(f"wasmtime._ffi.{name} is missing")
        elif code is not None and code.co_argcount != arity:
            problems.append(f"wasmtime._ffi.{name} takes {code.co_argcount} arguments, not {arity}")
    for name, fields in _TYPES.items():
        kind = getattr(ffi, name, None)
        if kind is None:
            problems.append(f"wasmtime._ffi.{name} is missing")
            continue
        have = {field[0] for field in getattr(kind, "_fields_", ())}
        problems += [f"wasmtime._ffi.{name} has no field {f}" for f in fields if f not in have]
    problems += [f"wasmtime._ffi.{n} is missing" for n in _CONSTANTS if not hasattr(ffi, n)]
    problems += _callback_type_problems()
    for cls, methods in _METHODS.items():
        problems += [
            f"wasmtime.{cls.__name__}.{m} is missing" for m in methods if not hasattr(cls, m)
        ]
    return problems


def _callback_type_problems() -> list[str]:
    """The deadline callback type must match the one wasmtime-py declares: a C callback of
    another shape would crash the process, not raise."""
    from wasmtime import _bindings  # noqa: PLC0415 (only here)

    setter = getattr(_bindings, "_wasmtime_store_epoch_deadline_callback", None)
    declared: Sequence[Any] = getattr(setter, "argtypes", None) or ()
    if len(declared) != 4:
        return ["wasmtime._bindings declares wasmtime_store_epoch_deadline_callback otherwise"]
    problems = []
    pairs = ((_DeadlineCallback, declared[1], "callback"), (_Finalizer, declared[3], "finalizer"))
    for ours, theirs, what in pairs:
        ours_args = [ctypes.sizeof(kind) for kind in ours._argtypes_]
        their_args = [ctypes.sizeof(kind) for kind in getattr(theirs, "_argtypes_", ())]
        ours_result = ctypes.sizeof(ours._restype_) if ours._restype_ else 0
        their_restype = getattr(theirs, "_restype_", None)
        their_result = ctypes.sizeof(their_restype) if their_restype else 0
        if ours_args != their_args or ours_result != their_result:
            problems.append(f"the epoch-deadline {what} has another C signature")
    return problems


def _behaviour_problems() -> tuple[list[str], bool]:
    """Use each private path once on tiny objects: a shared memory written through one handle
    and read through another, its extern, a Func and an Instance handle. Returns the problems
    and whether the installed wasmtime has the SharedMemory import bug."""
    config = wasmtime.Config()
    config.wasm_threads = True
    config.shared_memory = True
    engine = wasmtime.Engine(config)
    memory_type = wasmtime.MemoryType(wasmtime.Limits(1, 1), shared=True)
    memory = wasmtime.SharedMemory(engine, memory_type)
    problems = []
    bug = has_import_bug(memory)
    handle = clone_shared_memory(memory, ImportableSharedMemory if bug else wasmtime.SharedMemory)
    word = 0x5A17C0DE
    ctypes.c_uint32.from_address(shared_memory_address(memory) + 8).value = word
    if load_u32(shared_memory_address(handle) + 8) != word:
        problems.append("a cloned SharedMemory handle does not see the same bytes")
    extern = handle._as_extern()
    if cast(int, extern.kind) != ffi.WASMTIME_EXTERN_SHAREDMEMORY.value:
        problems.append("SharedMemory._as_extern does not give a shared-memory extern")
    if handle.size() != 1:
        problems.append("the size of a one-page SharedMemory is not 1")
    store = wasmtime.Store(engine)
    if not store._context():
        problems.append("Store._context() is null")
    func = wasmtime.Func(store, wasmtime.FuncType([], []), lambda: None)
    if not isinstance(getattr(func, "_func", None), ffi.wasmtime_func_t):
        problems.append("wasmtime.Func keeps no wasmtime_func_t in _func")
    elif not isinstance(getattr(func._func, "store_id", None), int):
        problems.append("wasmtime.Func's wasmtime_func_t has no store_id")
    instance = wasmtime.Instance._from_raw(ffi.wasmtime_instance_t())
    if not isinstance(getattr(instance, "_instance", None), ffi.wasmtime_instance_t):
        problems.append("wasmtime.Instance keeps no wasmtime_instance_t in _instance")
    return problems, bug


def check() -> bool:
    """Raise UnsupportedWasmtimeError when wasmtime-py's private API is not as this module
    expects; else return whether the installed wasmtime has the SharedMemory import bug.
    Runs at import."""
    problems = _missing_names()
    if problems:
        raise unsupported(problems)
    try:
        problems, bug = _behaviour_problems()
    except Exception as error:
        raise unsupported([f"{type(error).__name__}: {error}"]) from error
    if problems:
        raise unsupported(problems)
    return bug


# Whether SharedMemory imports need ImportableSharedMemory on the installed wasmtime.
SHARED_MEMORY_IMPORT_BUG = check()
