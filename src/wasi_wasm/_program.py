"""Loading a WASI program: read, check that it is a WASI preview 1 command, compile."""

from __future__ import annotations

import functools
import os
import threading
import weakref
from pathlib import Path
from typing import Union

import wasmtime

from ._abi import WASI_FUNCTIONS
from ._engine import compile_cached

Program = Union[str, "os.PathLike[str]", bytes, bytearray, wasmtime.Module]

WASM_MAGIC = b"\0asm"
CORE_MODULE_VERSION = b"\x01\0\0\0"
BYTES_PROGRAM_NAME = "program.wasm"


class ProgramError(ValueError):
    """The program cannot be run: unreadable, not a module, or not a WASI command."""


def compile_program(data: bytes, name: str) -> wasmtime.Module:
    if data[:4] != WASM_MAGIC:
        raise ProgramError(f"{name}: not a WebAssembly module (bad magic number)")
    if data[4:8] != CORE_MODULE_VERSION:
        raise ProgramError(f"{name}: not a core WebAssembly module (a component?)")
    try:
        # Once per process and, through the disk cache, once per machine.
        module = compile_cached(data, name)
    except wasmtime.WasmtimeError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "invalid module"
        raise ProgramError(f"{name}: invalid WebAssembly module: {reason}") from None
    check_wasi_command(module, name)
    return module


_checked: weakref.WeakSet[wasmtime.Module] = weakref.WeakSet()
_checked_lock = threading.Lock()


def check_wasi_command(module: wasmtime.Module, name: str) -> None:
    """Only wasi_snapshot_preview1 function imports; exports `_start` () -> () and a 32-bit
    `memory`.
    (Checked once per module: reading a module's imports and exports is slow.)"""
    with _checked_lock:
        if module in _checked:
            return
    _check_wasi_command(module, name)
    with _checked_lock:
        _checked.add(module)


def _check_wasi_command(module: wasmtime.Module, name: str) -> None:
    known = set(WASI_FUNCTIONS)
    for item in module.imports:
        if item.module != "wasi_snapshot_preview1" or not isinstance(item.type, wasmtime.FuncType):
            raise ProgramError(
                f"{name}: imports {item.module}.{item.name}, which is not a WASI preview 1 function"
            )
        if item.name not in known:
            raise ProgramError(f"{name}: imports unknown WASI function {item.name}")
        expected = _wasi_signatures()[item.name]
        if _signature(item.type) != expected:
            raise ProgramError(
                f"{name}: imports WASI function {item.name} with the wrong type "
                f"{_show(_signature(item.type))}, expected {_show(expected)}"
            )
    exports = {item.name: item.type for item in module.exports}
    start = exports.get("_start")
    if not isinstance(start, wasmtime.FuncType):
        raise ProgramError(f"{name}: no _start function: not a WASI command")
    # A command's entry point takes nothing and returns nothing: wasmtime would refuse to call
    # any other, and a result would be lost (a command reports its status with proc_exit).
    if _signature(start) != ((), ()):
        raise ProgramError(
            f"{name}: its _start function has the type {_show(_signature(start))}, "
            "not () -> (): not a WASI command"
        )
    memory = exports.get("memory")
    if not isinstance(memory, wasmtime.MemoryType):
        raise ProgramError(f"{name}: does not export its memory")
    # WASI preview 1 pointers are 32-bit: the core can only serve a 32-bit memory.
    if memory.is_64:
        raise ProgramError(f"{name}: exports a 64-bit memory: WASI preview 1 programs are wasm32")


Signature = tuple[tuple[str, ...], tuple[str, ...]]


def _signature(function: wasmtime.FuncType) -> Signature:
    return tuple(map(str, function.params)), tuple(map(str, function.results))


def _show(signature: Signature) -> str:
    return f"({', '.join(signature[0])}) -> ({', '.join(signature[1])})"


@functools.cache
def _wasi_signatures() -> dict[str, Signature]:
    """The types of the WASI functions, as the core exports them."""
    from ._init import get_wasi  # noqa: PLC0415 - compiling the core only when needed

    return {
        item.name: _signature(item.type)
        for item in get_wasi().module.exports
        if item.name in WASI_FUNCTIONS and isinstance(item.type, wasmtime.FuncType)
    }


def load_program(program: Program) -> tuple[wasmtime.Module, str]:
    """(compiled module, argv[0]) for a path, wasm bytes or an already compiled module."""
    if isinstance(program, wasmtime.Module):
        check_wasi_command(program, BYTES_PROGRAM_NAME)
        return program, BYTES_PROGRAM_NAME
    if isinstance(program, (bytes, bytearray)):
        return compile_program(bytes(program), BYTES_PROGRAM_NAME), BYTES_PROGRAM_NAME
    path = Path(program)
    try:
        info = path.stat()
        # Running the same file again skips reading and hashing it (and compiling it).
        key = (str(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        return _load_file(*key), path.name
    except OSError as error:
        raise ProgramError(f"cannot read {path}: {error.strerror or error}") from None


@functools.lru_cache(maxsize=32)
def _load_file(path: str, _dev: int, _ino: int, _size: int, _mtime_ns: int) -> wasmtime.Module:
    """The compiled program in the file ``path`` as it is now (the other arguments are its
    identity and version, so a changed file is read again)."""
    return compile_program(Path(path).read_bytes(), path)
