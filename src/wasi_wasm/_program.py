"""Loading a WASI program: read, check that it is a WASI preview 1 command or reactor, compile."""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Union

import wasmtime

from ._abi import WASI_FUNCTIONS
from ._engine import compile_cached

Program = Union[str, "os.PathLike[str]", bytes, bytearray, wasmtime.Module]

WASM_MAGIC = b"\0asm"
CORE_MODULE_VERSION = b"\x01\0\0\0"
BYTES_PROGRAM_NAME = "program.wasm"


class ProgramError(ValueError):
    """The program cannot be run: unreadable, not a module, not a WASI command or reactor, an
    import nothing provides, or no such export to invoke."""


def compile_program(data: bytes, name: str) -> wasmtime.Module:
    if data[:4] != WASM_MAGIC:
        raise ProgramError(f"{name}: not a WebAssembly module (bad magic number)")
    if data[4:8] != CORE_MODULE_VERSION:
        raise ProgramError(f"{name}: not a core WebAssembly module (a component?)")
    try:
        # Once per process and, through the disk cache, once per machine.
        return compile_cached(data, name)
    except wasmtime.WasmtimeError as error:
        reason = first_line(error) or "invalid module"
        raise ProgramError(f"{name}: invalid WebAssembly module: {reason}") from None


# The imports a run may take besides WASI's, functions only: {module: {name: callable}} (each
# function gets the type the program declares for it), or a wasmtime.Linker whose
# store-independent definitions (define_func) provide them.
ExtraImports = Mapping[str, Mapping[str, Callable[..., Any]]] | wasmtime.Linker

WASI_MODULE = "wasi_snapshot_preview1"
START = "_start"
INITIALIZE = "_initialize"


@dataclasses.dataclass(frozen=True)
class ProgramInfo:
    """What running a checked program needs to know of it (reading a module's imports and
    exports is slow: found once per module)."""

    # (module, name, type) of each import that WASI does not provide, in declaration order
    extra_imports: tuple[tuple[str, str, object], ...]
    exports: Mapping[str, object]
    # Why it is neither a command nor a reactor, if it is not (reported after an import that
    # nothing provides, which says more about what the module is)
    problem: str | None = None

    @property
    def is_command(self) -> bool:
        return START in self.exports


_checked: weakref.WeakKeyDictionary[wasmtime.Module, ProgramInfo] = weakref.WeakKeyDictionary()
_checked_lock = threading.Lock()


def program_info(module: wasmtime.Module, name: str) -> ProgramInfo:
    """Check that ``module`` is a WASI preview 1 command or reactor (a ProgramError if not)
    and say what it imports besides WASI and what it exports."""
    info = _program_info(module, name)
    if info.problem is not None:
        raise ProgramError(f"{name}: {info.problem}")
    return info


def _program_info(module: wasmtime.Module, name: str) -> ProgramInfo:
    with _checked_lock:
        info = _checked.get(module)
    if info is None:
        info = _check_wasi_program(module, name)
        with _checked_lock:
            _checked[module] = info
    return info


def _check_wasi_program(module: wasmtime.Module, name: str) -> ProgramInfo:
    """WASI imports are preview 1 functions of the right types; the program exports a 32-bit
    `memory` and `_start` () -> () (a command) or `_initialize` () -> () (a reactor)."""
    known = set(WASI_FUNCTIONS)
    extra_imports = []
    for item in module.imports:
        if item.module != WASI_MODULE:
            extra_imports.append((item.module, item.name or "", item.type))
            continue
        if not isinstance(item.type, wasmtime.FuncType):
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
    return ProgramInfo(tuple(extra_imports), exports, _shape_problem(exports))


def _shape_problem(exports: Mapping[str, object]) -> str | None:
    """Why a module that exports ``exports`` is not a WASI command or reactor, or None."""
    entry_points = {entry: exports[entry] for entry in (START, INITIALIZE) if entry in exports}
    if not entry_points:
        return f"no {START} function (a WASI command) and no {INITIALIZE} function (a WASI reactor)"
    for entry, function in entry_points.items():
        kind = "command" if entry == START else "reactor"
        if not isinstance(function, wasmtime.FuncType):
            return f"its {entry} export is not a function: not a WASI {kind}"
        # An entry point takes nothing and returns nothing: wasmtime would refuse to call any
        # other, and a result would be lost (a command reports its status with proc_exit).
        if _signature(function) != ((), ()):
            return (
                f"its {entry} function has the type {_show(_signature(function))}, "
                f"not () -> (): not a WASI {kind}"
            )
    memory = exports.get("memory")
    if not isinstance(memory, wasmtime.MemoryType):
        return "does not export its memory"
    # WASI preview 1 pointers are 32-bit: the core can only serve a 32-bit memory.
    if memory.is_64:
        return "exports a 64-bit memory: WASI preview 1 programs are wasm32"
    return None


def check_extra_imports(info: ProgramInfo, name: str, imports: ExtraImports | None) -> None:
    """A ProgramError for an import that neither WASI nor ``imports`` provides. A Linker's
    definitions are looked up when the program is instantiated (that needs its Store)."""
    if imports is not None and not isinstance(imports, wasmtime.Linker):
        check_import_mapping(imports)
    for module_name, item, kind in info.extra_imports:
        if imports is not None and not isinstance(kind, wasmtime.FuncType):
            # A memory, table or global belongs to one Store, and each run has its own.
            raise ProgramError(
                f"{name}: imports {module_name}.{item}, which is not a function: extra imports "
                "are functions only"
            )
        if isinstance(imports, wasmtime.Linker):
            continue
        if imports is None or item not in imports.get(module_name, {}):
            among = "" if imports is None else " nor one of the extra imports"
            raise ProgramError(
                f"{name}: imports {module_name}.{item}, which is not a WASI preview 1 "
                f"function{among}"
            )


def check_import_mapping(imports: Mapping[str, Mapping[str, Callable[..., Any]]]) -> None:
    """A TypeError or ValueError for extra imports that are not {module: {name: callable}},
    or that try to replace WASI's own functions."""
    if not isinstance(imports, Mapping):
        raise TypeError(
            "imports must be a mapping {module: {name: callable}} or a wasmtime.Linker, "
            f"not {type(imports).__name__}"
        )
    for module_name, functions in imports.items():
        if module_name == WASI_MODULE:
            raise ValueError(f"imports: the {WASI_MODULE} functions come from wasi.wasm")
        if not isinstance(functions, Mapping):
            raise TypeError(f"imports[{module_name!r}] must be a mapping {{name: callable}}")
        for item, function in functions.items():
            if not callable(function):
                raise TypeError(
                    f"imports[{module_name!r}][{item!r}] must be callable, "
                    f"not {type(function).__name__}"
                )


def define_extra_imports(
    linker: wasmtime.Linker, store: wasmtime.Store, module: wasmtime.Module, imports: ExtraImports
) -> None:
    """Define in ``linker`` the imports of ``module`` that WASI does not provide, from
    ``imports`` (checked by load_program), for instantiation in ``store``."""
    info = program_info(module, BYTES_PROGRAM_NAME)  # checked already: found in the cache
    for module_name, item, kind in info.extra_imports:
        if isinstance(imports, wasmtime.Linker):
            try:
                value = imports.get(store, module_name, item)
            except wasmtime.WasmtimeError:
                raise ProgramError(
                    f"the program imports {module_name}.{item}, which is not a WASI preview 1 "
                    "function nor defined in the extra imports' Linker"
                ) from None
            if not isinstance(value, wasmtime.Func):
                raise ProgramError(
                    f"the extra imports' Linker defines {module_name}.{item} as a "
                    f"{type(value).__name__}, not a function"
                )
            if not _in_store(value, store):
                raise ProgramError(
                    f"the extra imports' Linker defines {module_name}.{item} in a Store of its "
                    "own, but each run has a Store of its own: define it with define_func"
                )
            linker.define(store, module_name, item, value)
        else:
            assert isinstance(kind, wasmtime.FuncType)  # check_extra_imports made sure
            linker.define_func(module_name, item, kind, imports[module_name][item])


def _in_store(function: wasmtime.Func, store: wasmtime.Store) -> bool:
    """Whether ``function`` belongs to ``store``. wasmtime aborts the whole process (a Rust
    panic) when a function of another Store is defined or called, and no public call of
    wasmtime-py says which Store a function belongs to: this reads its private ctypes field
    (a Linker gives a define_func definition as a new function in the Store asked for)."""
    probe = wasmtime.Func(store, wasmtime.FuncType([], []), _do_nothing)
    return bool(function._func.store_id == probe._func.store_id)


def _do_nothing() -> None:
    return None


def first_line(error: Exception) -> str:
    """The first line of a wasmtime error (the rest is its causes and backtrace)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


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


def load_program(
    program: Program, *, imports: ExtraImports | None = None
) -> tuple[wasmtime.Module, str]:
    """(compiled module, argv[0]) for a path, wasm bytes or an already compiled module: a
    WASI command or reactor whose imports WASI provides, or else ``imports`` (a mapping
    {module: {name: callable}} must name them all; a Linker is asked when the program is
    instantiated)."""
    name = shown = BYTES_PROGRAM_NAME  # argv[0], and the name messages give
    if isinstance(program, wasmtime.Module):
        module = program
    elif isinstance(program, (bytes, bytearray)):
        module = compile_program(bytes(program), BYTES_PROGRAM_NAME)
    else:
        path = Path(program)
        try:
            stat = path.stat()
        except OSError as error:
            raise ProgramError(f"cannot read {path}: {error.strerror or error}") from None
        # Running the same file again skips reading and hashing it (and compiling it).
        key = (str(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        try:
            module = _load_file(*key)
        except OSError as error:
            raise ProgramError(f"cannot read {path}: {error.strerror or error}") from None
        name, shown = path.name, str(path)
    check_extra_imports(_program_info(module, shown), shown, imports)
    program_info(module, shown)
    return module, name


@functools.lru_cache(maxsize=32)
def _load_file(path: str, _dev: int, _ino: int, _size: int, _mtime_ns: int) -> wasmtime.Module:
    """The compiled program in the file ``path`` as it is now (the other arguments are its
    identity and version, so a changed file is read again)."""
    return compile_program(Path(path).read_bytes(), path)
