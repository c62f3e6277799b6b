"""One instance of the core module: one WASI "process" on the shared filesystem."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import wasmtime

from . import _bridge
from ._core_memory import U32_MASK, CoreMemory
from ._errno import SUCCESS, error_from_wasi
from ._hooks import Hook, ProcessHooks, core_imports

# Every wasi_snapshot_preview1 function; the core exports each under its own name.
WASI_FUNCTIONS = (
    "args_get", "args_sizes_get", "environ_get", "environ_sizes_get", "clock_res_get",
    "clock_time_get", "fd_advise", "fd_allocate", "fd_close", "fd_datasync", "fd_fdstat_get",
    "fd_fdstat_set_flags", "fd_fdstat_set_rights", "fd_filestat_get", "fd_filestat_set_size",
    "fd_filestat_set_times", "fd_pread", "fd_prestat_get", "fd_prestat_dir_name", "fd_pwrite",
    "fd_read", "fd_readdir", "fd_renumber", "fd_seek", "fd_sync", "fd_tell", "fd_write",
    "path_create_directory", "path_filestat_get", "path_filestat_set_times", "path_link",
    "path_open", "path_readlink", "path_remove_directory", "path_rename", "path_symlink",
    "path_unlink_file", "poll_oneoff", "proc_exit", "proc_raise", "random_get", "sched_yield",
    "sock_accept", "sock_recv", "sock_send", "sock_shutdown",
)  # fmt: skip

STDIO_EACH_WRITE = 0
STDIO_LINE = 1
STDIO_THRESHOLD = 2

TABLE_EXPORT = "__indirect_function_table"
MIN_KEPT_SCRATCH = 4096
KEPT_SCRATCH_LIMIT = 1 << 16


class CoreError(RuntimeError):
    """A host-only core export reported an error."""


class CoreProcess:
    """A core instance in ``store``: attached (its own fd table and stack), with its hooks."""

    def __init__(
        self,
        store: wasmtime.Store,
        module: wasmtime.Module,
        memory: CoreMemory,
        hooks: ProcessHooks,
        native_hooks: Mapping[Hook, wasmtime.Func] | None = None,
    ) -> None:
        self.store = store
        self.memory = memory
        self.hooks = hooks
        self.instance = wasmtime.Instance(store, module, core_imports(store, module, hooks))
        exports = self.instance.exports(store)
        self.functions: dict[str, wasmtime.Func] = {}
        for export in module.exports:
            value = exports[export.name]
            if isinstance(value, wasmtime.Func):
                self.functions[export.name] = value
        table = exports[TABLE_EXPORT]
        assert isinstance(table, wasmtime.Table)
        self.table = table
        self.attached = False
        self._scratch_ptr = 0
        self._scratch_size = 0
        self._scratch_busy = False
        code = self.call("wasi_wasm_attach", 1)
        if code != SUCCESS:
            raise error_from_wasi(code)
        self.attached = True
        for hook, function in (native_hooks or {}).items():
            self.set_hook(hook, function)

    def call(self, name: str, *args: int) -> int:
        """Call a core export; returns its result (0 for functions without one)."""
        function = self.functions.get(name)
        if function is None:
            raise CoreError(f"the core module does not export {name}")
        result = function(self.store, *args)
        return int(result) if result is not None else 0

    def wasi_functions(self) -> dict[str, wasmtime.Func]:
        return {name: self.functions[name] for name in WASI_FUNCTIONS if name in self.functions}

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

    # -- the copy hooks ---------------------------------------------------------------------
    def set_hook(self, hook: Hook, function: wasmtime.Func) -> None:
        index = self.call("wasi_wasm_hook_index", int(hook))
        self.table.set(self.store, index, function)

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
