"""InitObj: what starting a Wasi needs (engine, compiled core module, maybe a shared memory),
and get_wasi() which compiles the core once."""

from __future__ import annotations

import threading
import weakref
from pathlib import Path

import wasmtime

from ._engine import compile_cached, core_wasm_bytes, get_engine
from ._shared_memory import new_shared_memory

DEFAULT_MAX_PAGES = 65536  # 4 GiB: the whole filesystem lives in this one memory


class InitObj:
    """Engine + compiled core module, and — once a Wasi created it — the shared memory.

    Pass it to ``start_wasi`` in another thread to share the filesystem. Pickling carries only
    the serialised module, never the memory: unpickled in another process, ``start_wasi``
    gives a fresh filesystem (like a page that is not cross-origin isolated)."""

    def __init__(
        self,
        engine: wasmtime.Engine,
        module: wasmtime.Module,
        memory: wasmtime.SharedMemory | None = None,
    ) -> None:
        self.engine = engine
        self.module = module
        self.memory = memory

    def memory_limits(self) -> tuple[int, int]:
        """(min, max) pages the core declares for its imported memory."""
        with _limits_lock:
            limits = _memory_limits.get(self.module)
            if limits is None:
                limits = _memory_limits[self.module] = _declared_memory_limits(self.module)
            return limits

    def new_memory(self) -> wasmtime.SharedMemory:
        """A fresh shared memory for the core: a fresh, empty filesystem."""
        min_pages, max_pages = self.memory_limits()
        return new_shared_memory(self.engine, min_pages, max_pages)

    def with_memory(self, memory: wasmtime.SharedMemory) -> InitObj:
        return InitObj(self.engine, self.module, memory)

    def __reduce__(self) -> tuple[object, tuple[bytes]]:
        return _init_from_serialized, (bytes(self.module.serialize()),)

    def __repr__(self) -> str:
        state = "with memory" if self.memory is not None else "no memory yet"
        return f"<InitObj {state}>"


_memory_limits: weakref.WeakKeyDictionary[wasmtime.Module, tuple[int, int]] = (
    weakref.WeakKeyDictionary()
)
_limits_lock = threading.Lock()


def _declared_memory_limits(module: wasmtime.Module) -> tuple[int, int]:
    for item in module.imports:
        if item.module == "env" and item.name == "memory":
            kind = item.type
            if isinstance(kind, wasmtime.MemoryType):
                limits = kind.limits
                return limits.min, limits.max or DEFAULT_MAX_PAGES
    raise RuntimeError("the core module does not import env.memory")


def _init_from_serialized(serialized: bytes) -> InitObj:
    """Unpickle: the module is deserialised for this process's engine; no memory."""
    engine = get_engine()
    return InitObj(engine, wasmtime.Module.deserialize(engine, serialized))


_packaged: wasmtime.Module | None = None
_packaged_lock = threading.Lock()


def get_wasi(wasm: bytes | str | Path | None = None) -> InitObj:
    """Compile the core (the packaged wasi.wasm, or ``wasm``: bytes or a path) once per
    process (and once per machine, thanks to the disk cache)."""
    global _packaged  # noqa: PLW0603 - the packaged core, read and compiled once
    if wasm is None:
        # Each start_wasi() without an init comes here: skip reading and hashing the file.
        with _packaged_lock:
            if _packaged is None:
                _packaged = compile_cached(core_wasm_bytes())
            return InitObj(get_engine(), _packaged)
    data = wasm if isinstance(wasm, bytes) else Path(wasm).read_bytes()
    return InitObj(get_engine(), compile_cached(data))
