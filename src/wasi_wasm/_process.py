"""One instance of the core module: one WASI "process" on the shared filesystem."""

from __future__ import annotations

import struct
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager

import wasmtime

from . import _bridge, _interrupt
from ._abi import HOOKS, WASI_FUNCTIONS
from ._core_memory import U32_MASK, CoreMemory
from ._errno import SUCCESS, error_from_wasi
from ._hooks import STDOUT_FD, Hook, ProcessHooks
from ._wasmtime_private import (
    RawFunc,
    TableHandle,
    export_func,
    export_table,
    func_from_handle,
    instantiate,
    signature,
    table_set_func,
)

# Every wasi_snapshot_preview1 function; the core exports each under its own name.
WASI_FUNCTION_SET = frozenset(WASI_FUNCTIONS)

TABLE_EXPORT = "__indirect_function_table"
MIN_KEPT_SCRATCH = 4096
KEPT_SCRATCH_LIMIT = 1 << 16


OUT_BUFFERS_SIZE = 16  # two {u32 data, u32 len} (wasi_wasm_out_buffers)

# Filesystems frozen (Wasi.frozen), by their memory's base address: the freezing thread and
# process. Read without the lock on every host call while any filesystem is frozen.
_freezes: dict[int, tuple[int, CoreProcess]] = {}
_freezes_lock = threading.Lock()

class CoreError(RuntimeError):
    """A host-only core export reported an error."""


CoreFunction = Callable[..., int | None]


class CoreModuleInfo:
    """What every instance of one core module has in common, read once per module: the
    signature of each function export, the imports, and the table slot of each hook
    (``Module.exports``/``imports`` cost tens of microseconds per call in wasmtime-py)."""

    def __init__(self, module: wasmtime.Module) -> None:
        self.signatures = {
            item.name: signature(item.type)
            for item in module.exports
            if isinstance(item.type, wasmtime.FuncType)
        }
        # (name, function type) per import in declared order; None for the memory.
        self.imports: list[tuple[str, wasmtime.FuncType | None]] = []
        for item in module.imports:
            kind = item.type
            name = item.name or ""
            from_env = item.module == "env"
            if from_env and name == "memory" and isinstance(kind, wasmtime.MemoryType):
                self.imports.append((name, None))
            elif from_env and name in HOOK_IMPORTS and isinstance(kind, wasmtime.FuncType):
                self.imports.append((name, kind))
            else:
                missing = f"{item.module}.{item.name}"
                raise RuntimeError(f"the core imports {missing}, which the host lacks")
        # Filled by the first instance that asks (the table is laid out by the module).
        self.hook_slots: dict[Hook, int] = {}


HOOK_IMPORTS = frozenset(HOOKS)

_module_infos: weakref.WeakKeyDictionary[wasmtime.Module, CoreModuleInfo] = (
    weakref.WeakKeyDictionary()
)
_module_infos_lock = threading.Lock()


def core_module_info(module: wasmtime.Module) -> CoreModuleInfo:
    with _module_infos_lock:
        info = _module_infos.get(module)
        if info is None:
            info = _module_infos[module] = CoreModuleInfo(module)
        return info


class CoreProcess:
    """A core instance in ``store``: attached (its own fd table and stack), with its hooks.

    ``store_hooks``: hook functions every process of the store shares, by import name (the
    native clocks and randomness, the copy hooks of a process not bound yet); the others
    call into ``hooks``. ``thread_group``: the core's thread group of processes that never
    run at the same time as this one (0: a group of its own)."""

    def __init__(
        self,
        store: wasmtime.Store,
        module: wasmtime.Module,
        memory: CoreMemory,
        hooks: ProcessHooks,
        store_hooks: Mapping[str, wasmtime.Func] | None = None,
        *,
        thread_group: int = 0,
    ) -> None:
        self.store = store
        self.memory = memory
        self.hooks = hooks
        self._info = core_module_info(module)
        self.instance = instantiate(store, module, self._imports(store_hooks or {}))
        self._functions: dict[str, CoreFunction] = {}
        self._wasi_functions: dict[str, wasmtime.Func] = {}
        self._table: TableHandle | None = None
        self.attached = False
        self._scratch_ptr = 0
        self._scratch_size = 0
        self._scratch_busy = False
        self._interrupts = _interrupt.guard(store)
        # Recover the process after a call that stops inside the core (call()).
        self.recover_after_stop = True
        code = self.call("wasi_wasm_attach", 1)
        if code != SUCCESS:
            raise error_from_wasi(code)
        self.attached = True
        # The process's busy word: nonzero while it holds or takes the VFS lock.
        self._lock_probe = memory.address(self.call("wasi_wasm_busy_slot") & U32_MASK)
        self._interrupts.probes.append(self._lock_probe)
        # Its stdout and stderr buffers (wasi_wasm_out_buffers): what a program writes in
        # small pieces goes out at the next epoch tick instead of in a host call per write.
        self._out_buffers = self.call("wasi_wasm_out_buffers") & U32_MASK
        self._interrupts.tick_work.append(self.deliver_buffered_output)
        # The filesystem's file clock word (_file_clock.py).
        self.file_clock_address = memory.address(self.call("wasi_wasm_file_clock") & U32_MASK)
        # Its thread group (wasi_wasm_thread_group): thread_group, a group whose processes
        # never run at the same time as this one, or else a new one. A core from before
        # groups (bench/ops.py --rev compares older cores) has none: only a speed hint.
        self.thread_group = 0
        if "wasi_wasm_thread_group" in self._info.signatures:
            self.thread_group = self.call("wasi_wasm_thread_group", thread_group) & U32_MASK

    def _imports(
        self, store_hooks: Mapping[str, wasmtime.Func]
    ) -> list[wasmtime.Func | wasmtime.SharedMemory]:
        """The core's imports in declared order: the shared memory and one Func per hook."""
        own = self.hooks.by_import_name()
        values: list[wasmtime.Func | wasmtime.SharedMemory] = []
        for name, func_type in self._info.imports:
            if func_type is None:
                values.append(self.memory.memory)
            elif name in store_hooks:
                values.append(store_hooks[name])
            else:
                values.append(wasmtime.Func(self.store, func_type, own[name]))
        return values

    def _function(self, name: str) -> CoreFunction:
        function = self._functions.get(name)
        if function is None:
            found = export_func(self.store, self.instance, name.encode())
            if found is None or name not in self._info.signatures:
                raise CoreError(f"the core module does not export {name}")
            kind = self._info.signatures[name]
            function = RawFunc(found, *kind) if kind else func_from_handle(found)
            self._functions[name] = function
        return function

    def call(self, name: str, *args: int) -> int:
        """Call a core export; returns its result (0 for functions without one).

        A call that does not return (a trap inside the core, a hook's exception) left the
        core where it stopped, perhaps holding the filesystem lock, which the next call of
        any process (the ``except`` of the caller, freeing its buffer or dropping its new
        file, to begin with) would wait for for ever: the process is recovered
        (wasi_wasm_recover, as after a program's trap) before the exception goes on, unless
        ``recover_after_stop`` is False (a test standing in for a thread that died there)."""
        if _freezes:
            self.check_not_frozen_out()
        function = self._function(name)
        # The host's own calls finish even when the store's epoch deadline has passed.
        self._interrupts.host_calls += 1
        try:
            result = function(self.store, *args)
        except BaseException:
            if self.recover_after_stop and self.attached:
                self._recover_after_stop()
            raise
        finally:
            self._interrupts.host_calls -= 1
        return int(result) if result is not None else 0

    def _recover_after_stop(self) -> None:
        """wasi_wasm_recover after a call that stopped inside the core: releases what the
        process held of the lock and its mutexes, rewinds its shadow stack and cuts a write it
        stopped in back to the file's size. Its own failure (a core past recovering) goes up
        with the stop as its context."""
        self._function("wasi_wasm_recover")(self.store)

    def wasi_function(self, name: str) -> wasmtime.Func | None:
        """The core's WASI function ``name`` as a ``Func`` (None if it has none)."""
        function = self._wasi_functions.get(name)
        if function is None:
            if name not in WASI_FUNCTION_SET or name not in self._info.signatures:
                return None
            found = export_func(self.store, self.instance, name.encode())
            if found is None:
                return None
            function = self._wasi_functions[name] = func_from_handle(found)
        return function

    def wasi_functions(self) -> dict[str, wasmtime.Func]:
        functions = {name: self.wasi_function(name) for name in WASI_FUNCTIONS}
        return {name: function for name, function in functions.items() if function is not None}

    # -- scratch buffers in core memory -----------------------------------------------------
    def _alloc(self, size: int) -> int:
        ptr = self.call("wasi_wasm_alloc", max(size, 1)) & U32_MASK
        if ptr == 0:
            raise MemoryError(f"the core could not allocate {size} bytes")
        return ptr

    @contextmanager
    def scratch(self, size: int) -> Iterator[int]:
        """A temporary buffer in core memory (offset).

        Small requests reuse one kept buffer: each export call from Python costs
        microseconds, so skipping alloc + free halves the cost of a small fs operation."""
        if self._scratch_busy or size > KEPT_SCRATCH_LIMIT:
            ptr = self._alloc(size)
            try:
                yield ptr
            finally:
                self.call("wasi_wasm_free", ptr)
            return
        if size > self._scratch_size:
            if self._scratch_ptr:
                self.call("wasi_wasm_free", self._scratch_ptr)
                self._scratch_ptr = self._scratch_size = 0
            grown = max(size, MIN_KEPT_SCRATCH)
            self._scratch_ptr = self._alloc(grown)
            self._scratch_size = grown
        self._scratch_busy = True
        try:
            yield self._scratch_ptr
        finally:
            self._scratch_busy = False

    def _call_with_blob(self, name: str, blob: bytes) -> int:
        with self.scratch(len(blob)) as ptr:
            self.memory.write(ptr, blob)
            return self.call(name, ptr, len(blob))

    # -- process setup ----------------------------------------------------------------------
    def set_args(self, args: Iterable[str | bytes]) -> None:
        code = self._call_with_blob("wasi_wasm_set_args", _nul_joined(args))
        if code != SUCCESS:
            raise error_from_wasi(code)

    def set_env(self, env: Mapping[str, str] | Mapping[bytes, bytes]) -> None:
        if not isinstance(env, Mapping):
            raise TypeError(f"env must be a mapping of names to values, not {type(env).__name__}")
        entries = []
        for key, value in env.items():
            name = _encode(key, "an environment variable name")
            if not name or b"=" in name:
                raise ValueError(f"invalid environment variable name {key!r}")
            entries.append(name + b"=" + _encode(value, "an environment variable value"))
        code = self._call_with_blob("wasi_wasm_set_env", _nul_joined(entries))
        if code != SUCCESS:
            raise error_from_wasi(code)

    def preopen(self, vfs_path: str, guest_name: str) -> int:
        """Open VFS directory ``vfs_path`` as the next preopened fd named ``guest_name``."""
        vfs = _encode(vfs_path, "a preopened VFS path")
        name = _encode(guest_name, "a preopen's guest name")
        with self.scratch(len(vfs) + len(name)) as ptr:
            self.memory.write(ptr, vfs + name)
            fd = self.call("wasi_wasm_preopen", ptr, len(vfs), ptr + len(vfs), len(name))
        if fd < 0:
            raise error_from_wasi(-fd, vfs_path)
        return fd

    def set_stdio_mode(self, mode: int) -> None:
        self.call("wasi_wasm_set_stdio_mode", mode)

    def flush(self) -> None:
        self.call("wasi_wasm_flush")

    # -- freezing the filesystem (Wasi.frozen) ------------------------------------------------
    def freeze(self) -> int:
        """wasi_wasm_freeze; on success this thread's other processes of the filesystem are
        refused until thaw() (check_not_frozen_out), where they would wait for ever."""
        code = self.call("wasi_wasm_freeze")
        if code == SUCCESS:
            with _freezes_lock:
                _freezes[self.memory.base] = (threading.get_ident(), self)
        return code

    def thaw(self) -> int:
        with _freezes_lock:
            if _freezes.get(self.memory.base, (0, None))[1] is self:
                del _freezes[self.memory.base]
        return self.call("wasi_wasm_thaw")

    def check_not_frozen_out(self) -> None:
        """A RuntimeError if this thread froze the filesystem through another process: this
        process's next filesystem call (a program's, or the host's) would wait for the thaw,
        which this thread can never reach."""
        frozen = _freezes.get(self.memory.base)
        if frozen is not None and frozen[0] == threading.get_ident() and frozen[1] is not self:
            raise RuntimeError(
                "the filesystem is frozen by this thread (Wasi.frozen): a program, another "
                "Wasi or a close in that block would wait for the block's end for ever"
            )

    def deliver_buffered_output(self) -> None:
        """Delivers what the core holds for stdout or stderr, as its own flush would: only
        between two of the process's calls (its busy word is 0), when no buffer is halfway
        changed (dev/process/stdio.c). The two are never both pending: a write to one
        delivers the other first."""
        raw = self.memory.read(self._out_buffers, OUT_BUFFERS_SIZE)
        for index, (data, length) in enumerate(struct.iter_unpack("<II", raw)):
            if length:
                self.memory.write(self._out_buffers + 8 * index + 4, bytes(4))
                self.hooks.output(STDOUT_FD + index, data, length)

    # -- the copy hooks ---------------------------------------------------------------------
    def hook_slot(self, hook: Hook) -> int:
        """Index of ``hook``'s slot in the core's function table (the same in every
        instance of a module: the module lays the table out)."""
        slots = self._info.hook_slots
        index = slots.get(hook)
        if index is None:
            index = slots[hook] = self.call("wasi_wasm_hook_index", int(hook))
        return index

    def set_hook(self, hook: Hook, function: wasmtime.Func) -> None:
        table = self._table
        if table is None:
            table = export_table(self.store, self.instance, TABLE_EXPORT.encode())
            if table is None:
                raise CoreError(f"the core module does not export {TABLE_EXPORT}")
            self._table = table
        table_set_func(self.store, table, self.hook_slot(hook), function)

    def bind(self, guest: _bridge.GuestMemory, bridge: bool | None = None) -> bool:
        """Route the copy hooks to ``guest``; returns whether the wasm bridge is used."""
        return _bridge.bind_memory(self.store, self.set_hook, self.memory, guest, bridge)

    def detach(self) -> None:
        """Close this process's fds and return its stack and tables to the allocator."""
        if self.attached:
            if self._scratch_ptr:
                self.call("wasi_wasm_free", self._scratch_ptr)
                self._scratch_ptr = self._scratch_size = 0
            self.attached = False
            self._interrupts.probes.remove(self._lock_probe)
            self._interrupts.tick_work.remove(self.deliver_buffered_output)
            self.call("wasi_wasm_detach")


def _encode(value: str | bytes, what: str = "an argument or environment string") -> bytes:
    """UTF-8, with surrogate escapes turned back into the bytes they stand for (as in
    sys.argv and os.environ on POSIX), so non-UTF-8 arguments reach the program intact."""
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")
    return value.encode("utf-8", "surrogateescape")


def _nul_joined(items: Iterable[str | bytes]) -> bytes:
    parts = [_encode(item) for item in items]
    for part in parts:
        if b"\0" in part:
            raise ValueError(f"embedded NUL byte in {part!r}")
    return b"".join(part + b"\0" for part in parts)
