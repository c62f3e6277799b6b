"""The process-wide wasmtime Engine, and compiling modules once: in memory for the process,
and on disk for every later process (the core and the programs it runs alike)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.resources
import logging
import os
import platform
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import wasmtime

_log = logging.getLogger("wasi_wasm")

_engine: wasmtime.Engine | None = None
_engine_lock = threading.Lock()

# The engine's settings. They are part of the disk-cache key: a serialised module is only
# valid for an identical engine setup. memory64 is on by default in recent wasmtimes; naming
# it makes older ones validate (and refuse) the same modules.
_ENGINE_SETTINGS = (
    ("wasm_threads", "threads"),
    ("shared_memory", "shared_memory"),
    ("wasm_multi_memory", "multi_memory"),
    ("wasm_memory64", "memory64"),
    ("epoch_interruption", "epoch_interruption"),
)
ENGINE_FEATURES = "+".join(name for _attribute, name in _ENGINE_SETTINGS)

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
            for attribute, _name in _ENGINE_SETTINGS:
                setattr(config, attribute, True)
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


# -- the disk cache ------------------------------------------------------------------------------
# One file per compiled module, ``module-<key>.cwasm``: wasmtime's serialised module followed
# by a footer (magic, payload length, key). The key hashes the module's sha256, the wasmtime
# version, the machine, the engine settings and this file format, so a changed module, another
# wasmtime or another configuration misses. Entries are written to a temporary file in the same
# directory and renamed into place, so concurrent processes never see half a file; a truncated
# or foreign entry fails the footer check (and a damaged one wasmtime's own checks) and is
# compiled again. After each write the least recently used entries (by mtime, which a hit
# refreshes) go until the directory holds at most the cap. Like wasmtime's own cache, the
# entries are trusted: the directory belongs to the user.
CACHE_FORMAT = 2
_FOOTER = struct.Struct("<8sQ32s")
_FOOTER_MAGIC = b"wwcache\x02"
DEFAULT_CACHE_MAX_BYTES = 512 << 20
_ENTRY_PREFIX, _ENTRY_SUFFIX = "module-", ".cwasm"
_TEMP_SUFFIX = ".tmp"
_STALE_TEMP_SECONDS = 3600
# Entries up to this size are read and deserialised from memory (no mapping stays open);
# larger ones are mapped by wasmtime, which reads only the pages a program runs.
_MAP_ABOVE_BYTES = 4 << 20
# A compilation that takes longer than this is announced (CLI) and logged at INFO.
SLOW_COMPILE_SECONDS = 0.5
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}

_cache_switch: bool | None = None  # set_disk_cache's choice; None: the environment decides
_compile_notice: Callable[[str], None] | None = None


def cache_dir() -> Path:
    """$WASI_WASM_CACHE_DIR, else $XDG_CACHE_HOME/wasi-wasm, else ~/.cache/wasi-wasm."""
    explicit = os.environ.get("WASI_WASM_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "wasi-wasm"


def disk_cache_enabled() -> bool:
    """False after ``set_disk_cache(False)`` (the CLI's --no-cache), else unless
    $WASI_WASM_NO_CACHE is set to something other than "" or "0"."""
    if _cache_switch is not None:
        return _cache_switch
    return os.environ.get("WASI_WASM_NO_CACHE", "") in ("", "0")


def set_disk_cache(enabled: bool | None) -> None:
    """Turn the disk cache on or off for this process (None: back to $WASI_WASM_NO_CACHE)."""
    global _cache_switch  # noqa: PLW0603 - a process-wide setting, like the environment's
    _cache_switch = enabled


def cache_max_bytes() -> int:
    """$WASI_WASM_CACHE_MAX_BYTES (a number of bytes, or with a K, M or G suffix), else
    512 MiB."""
    text = os.environ.get("WASI_WASM_CACHE_MAX_BYTES", "").strip().upper()
    if not text:
        return DEFAULT_CACHE_MAX_BYTES
    text = text.removesuffix("IB").removesuffix("B")
    unit = text[-1:] if text[-1:].isalpha() else ""
    digits = text[: len(text) - len(unit)].strip()
    if unit not in _SIZE_UNITS or not digits.isdigit():
        _log.warning("ignoring WASI_WASM_CACHE_MAX_BYTES=%r: not a size such as 512M", text)
        return DEFAULT_CACHE_MAX_BYTES
    return int(digits) * _SIZE_UNITS[unit]


def set_compile_notice(notice: Callable[[str], None] | None) -> None:
    """``notice(name)`` is called (from a timer thread) once compiling a module has taken
    SLOW_COMPILE_SECONDS; the CLI prints a line with it. None: no notice."""
    global _compile_notice  # noqa: PLW0603 - one process-wide listener (the CLI)
    _compile_notice = notice


@functools.cache
def _wasmtime_version() -> str:
    return importlib.metadata.version("wasmtime")


def _entry_key(digest: str) -> bytes:
    fields = (digest, _wasmtime_version(), platform.machine(), ENGINE_FEATURES, CACHE_FORMAT)
    return hashlib.sha256("|".join(map(str, fields)).encode()).digest()


def _entry_path(key: bytes) -> Path:
    return cache_dir() / f"{_ENTRY_PREFIX}{key.hex()[:32]}{_ENTRY_SUFFIX}"


def _cache_file(wasm: bytes) -> Path:
    """Where the compiled ``wasm`` is cached."""
    return _entry_path(_entry_key(hashlib.sha256(wasm).hexdigest()))


def _load_entry(engine: wasmtime.Engine, path: Path, key: bytes) -> wasmtime.Module | None:
    """The module cached at ``path``, or None when it is missing, unreadable, truncated, for
    another key or refused by wasmtime (another build or configuration)."""
    try:
        with open(path, "rb") as entry:
            size = os.fstat(entry.fileno()).st_size
            if size < _FOOTER.size:
                return None
            if size <= _MAP_ABOVE_BYTES:
                data = entry.read()
                footer = data[-_FOOTER.size :]
            else:
                data = None
                entry.seek(size - _FOOTER.size)
                footer = entry.read(_FOOTER.size)
        magic, length, stored_key = _FOOTER.unpack(footer)
        if magic != _FOOTER_MAGIC or stored_key != key or length != size - _FOOTER.size:
            return None
        # wasmtime ignores the footer after the serialised module.
        if data is not None:
            module = wasmtime.Module.deserialize(engine, data)
        else:
            module = wasmtime.Module.deserialize_file(engine, str(path))
    except (OSError, struct.error, wasmtime.WasmtimeError):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # used now: the last to be evicted
    return module


def _store_entry(module: wasmtime.Module, path: Path, key: bytes) -> None:
    tmp: str | None = None
    try:
        payload = module.serialize()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            out.write(_FOOTER.pack(_FOOTER_MAGIC, len(payload), key))
        # Atomic, so a concurrent process never reads half a file.
        os.replace(tmp, path)
        tmp = None
        _evict(path.parent, cache_max_bytes())
    except (OSError, wasmtime.WasmtimeError):
        # An unwritable cache only costs a recompilation next time.
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _evict(directory: Path, max_bytes: int) -> None:
    """Remove the least recently used entries until those left take at most ``max_bytes``,
    and temporary files that a killed process left behind."""
    entries = []
    now = time.time()
    with os.scandir(directory) as scan:
        for item in scan:
            with contextlib.suppress(OSError):  # another process may remove it meanwhile
                info = item.stat(follow_symlinks=False)
                if item.name.startswith(_ENTRY_PREFIX) and item.name.endswith(_ENTRY_SUFFIX):
                    entries.append((info.st_mtime_ns, info.st_size, item.path))
                elif _is_temp(item.name) and now - info.st_mtime > _STALE_TEMP_SECONDS:
                    os.unlink(item.path)
    total = sum(size for _mtime, size, _path in entries)
    for _mtime, size, entry in sorted(entries):
        if total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            os.unlink(entry)
        total -= size


def _is_temp(name: str) -> bool:
    return name.startswith(f".{_ENTRY_PREFIX}") and name.endswith(_TEMP_SUFFIX)


def _compile(engine: wasmtime.Engine, wasm: bytes, name: str | None) -> wasmtime.Module:
    """wasmtime.Module(engine, wasm); a named module is announced to the compile notice once
    it is slow."""
    notice = _compile_notice
    timer = None
    if notice is not None and name is not None:
        # wasmtime compiles without the GIL, so the timer fires while it works.
        timer = threading.Timer(SLOW_COMPILE_SECONDS, notice, args=(name,))
        timer.daemon = True
        timer.start()
    started = time.perf_counter()
    try:
        return wasmtime.Module(engine, wasm)
    finally:
        if timer is not None:
            timer.cancel()
        elapsed = time.perf_counter() - started
        level = logging.INFO if elapsed >= SLOW_COMPILE_SECONDS else logging.DEBUG
        _log.log(level, "compiled %s in %.2f s", name or "a module", elapsed)


# -- compiling once ------------------------------------------------------------------------------
_MEMORY_ENTRIES = 32  # compiled modules kept in the process, most recently used last
_modules: dict[str, wasmtime.Module] = {}
_modules_lock = threading.Lock()
_compiling: dict[str, threading.Lock] = {}


def compile_cached(wasm: bytes, name: str | None = None) -> wasmtime.Module:
    """The compiled ``wasm``: compiled once per process (the last 32 kept in memory) and once
    per machine (the disk cache, unless disabled). A module being compiled by another thread
    is waited for, not compiled twice; different modules compile in parallel. ``name`` (a
    program's) names it in the log and in the compile notice, which is only for named modules.
    An invalid module raises
    wasmtime.WasmtimeError (and is never cached)."""
    digest = hashlib.sha256(wasm).hexdigest()
    module = _remembered(digest)
    if module is not None:
        return module
    with _modules_lock:
        gate = _compiling.setdefault(digest, threading.Lock())
    with gate:
        try:
            module = _remembered(digest)
            if module is None:
                module = _load_or_compile(wasm, digest, name)
                _remember(digest, module)
            return module
        finally:
            with _modules_lock:
                _compiling.pop(digest, None)


def _remembered(digest: str) -> wasmtime.Module | None:
    with _modules_lock:
        module = _modules.pop(digest, None)
        if module is not None:
            _modules[digest] = module  # most recently used: last
        return module


def _remember(digest: str, module: wasmtime.Module) -> None:
    with _modules_lock:
        _modules[digest] = module
        while len(_modules) > _MEMORY_ENTRIES:
            del _modules[next(iter(_modules))]


def _load_or_compile(wasm: bytes, digest: str, name: str | None) -> wasmtime.Module:
    engine = get_engine()
    if not disk_cache_enabled():
        return _compile(engine, wasm, name)
    key = _entry_key(digest)
    path = _entry_path(key)
    module = _load_entry(engine, path, key)
    if module is None:
        module = _compile(engine, wasm, name)
        _store_entry(module, path, key)
    return module
