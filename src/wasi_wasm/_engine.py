"""The process-wide wasmtime Engine and the compiled core module (cached in memory and on disk)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.resources
import os
import platform
import tempfile
import threading
from pathlib import Path

import wasmtime

_engine: wasmtime.Engine | None = None
_engine_lock = threading.Lock()
_modules: dict[str, wasmtime.Module] = {}
_modules_lock = threading.Lock()

# Part of the disk-cache key: a serialised module is only valid for an identical engine setup.
ENGINE_FEATURES = "threads+shared_memory+multi_memory+epoch_interruption"

# A store's epoch deadline when nobody asked to interrupt it: never reached.
NO_DEADLINE = 1 << 62


def get_engine() -> wasmtime.Engine:
    """One Engine per process: every Store, module and shared memory must share it.

    Epoch interruption is on, so a host can stop a runaway program: give its store a
    deadline (``store.set_epoch_deadline(ticks)``) and call ``engine.increment_epoch()``.
    A store on this engine traps at once unless it has a deadline: make stores with
    ``new_store``, which sets one that is never reached."""
    global _engine  # noqa: PLW0603 - created lazily, under a lock: two engines cannot mix
    with _engine_lock:
        if _engine is None:
            config = wasmtime.Config()
            config.wasm_threads = True
            config.shared_memory = True
            config.wasm_multi_memory = True
            config.epoch_interruption = True
            _engine = wasmtime.Engine(config)
        return _engine


def new_store(engine: wasmtime.Engine | None = None) -> wasmtime.Store:
    """A Store on ``engine`` (default: the shared one) that epochs never interrupt."""
    store = wasmtime.Store(engine or get_engine())
    store.set_epoch_deadline(NO_DEADLINE)
    return store


def core_wasm_bytes() -> bytes:
    """The core module shipped as package data."""
    return importlib.resources.files("wasi_wasm").joinpath("wasi.wasm").read_bytes()


def cache_dir() -> Path:
    """$WASI_WASM_CACHE_DIR, else $XDG_CACHE_HOME/wasi-wasm, else ~/.cache/wasi-wasm."""
    explicit = os.environ.get("WASI_WASM_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "wasi-wasm"


def _cache_file(wasm: bytes) -> Path:
    digest = hashlib.sha256(wasm).hexdigest()
    version = importlib.metadata.version("wasmtime")
    key = hashlib.sha256(f"{digest}|{version}|{platform.machine()}|{ENGINE_FEATURES}".encode())
    return cache_dir() / f"module-{key.hexdigest()[:32]}.cwasm"


def _load_cached(engine: wasmtime.Engine, path: Path) -> wasmtime.Module | None:
    try:
        data = path.read_bytes()
        return wasmtime.Module.deserialize(engine, data)
    except (OSError, wasmtime.WasmtimeError):
        # Missing, unreadable, truncated or from an incompatible build: recompile.
        return None


def _store_cached(module: wasmtime.Module, path: Path) -> None:
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(module.serialize())
        # Atomic, so a concurrent process never reads half a file.
        os.replace(tmp, path)
        tmp = None
    except OSError:
        # An unwritable cache only costs a recompilation next time.
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def compile_cached(wasm: bytes) -> wasmtime.Module:
    """Compile a module once per process, reusing a serialised copy from the disk cache.

    Deserialising trusts the cache directory, which belongs to the user (like wasmtime's own
    cache)."""
    key = hashlib.sha256(wasm).hexdigest()
    with _modules_lock:
        module = _modules.get(key)
        if module is not None:
            return module
        engine = get_engine()
        path = _cache_file(wasm)
        module = _load_cached(engine, path)
        if module is None:
            module = wasmtime.Module(engine, wasm)
            _store_cached(module, path)
        _modules[key] = module
        return module
