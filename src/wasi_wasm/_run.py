"""run(): the one-call way to run a WASI program and collect its exit code and output: a
command's ``_start``, or a reactor's ``_initialize`` and then one of its exports."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import wasmtime

from ._limits import Limits
from ._mount import lazy_mounts, lazy_preopens, mount_all
from ._program import (
    INITIALIZE,
    START,
    ExtraImports,
    Program,
    ProgramError,
    ProgramInfo,
    load_program,
    program_info,
)
from ._stdio import OutputTarget, StdinSource
from ._timeout import Stop, check_stop, stop_when
from ._wasi import Env, ProcessOptions, Wasi, start_process

# What invoke passes to an export: an int for i32 and i64, a float (or int) for f32 and f64.
InvokeArg = int | float

_INTEGER_BITS = {"i32": 32, "i64": 64}
_FLOAT_TYPES = ("f32", "f64")


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What a program that ended left: ``exit_code`` is its exit status, 0 to 255 as a host
    process can report it. A status of 256 or more (WASI's status is 32 bits) is never
    reported: the run raises ``InvalidExitStatus`` instead. ``results``: what the export
    that ``invoke`` named returned, one value per wasm result (i32 and i64 as signed ints,
    f32 and f64 as floats); empty for a command, for a reactor that was only initialised
    and for a program that called ``proc_exit``."""

    exit_code: int
    stdout: bytes  # empty when stdout went to a callback or file
    stderr: bytes
    results: tuple[Any, ...] = ()


def run(
    program: Program,
    args: Sequence[str | bytes] = (),
    env: Env | None = None,
    stdin: StdinSource = b"",
    preopens: Mapping[str, str] | None = None,
    *,
    wasi: Wasi | None = None,
    stdout: OutputTarget = None,
    stderr: OutputTarget = None,
    bridge: bool | None = None,
    line_buffered: bool | None = None,
    program_name: str | None = None,
    limits: Limits | None = None,
    timeout: float | None = None,
    stop: threading.Event | None = None,
    tty: Collection[int] = (),
    invoke: str | None = None,
    invoke_args: Sequence[InvokeArg] = (),
    imports: ExtraImports | None = None,
    mounts: Mapping[str, str | os.PathLike[str]] | None = None,
    read_only_mounts: Mapping[str, str | os.PathLike[str]] | None = None,
) -> RunResult:
    """Run a WASI command or reactor (a path, wasm bytes or a compiled module) to completion.

    argv[0] is the program's file name ("program.wasm" for bytes), followed by ``args``.
    With ``wasi`` the program runs as a new process on that Wasi's filesystem (in a Store of
    its own, dropped when the program ends; ``wasi.store``'s epoch deadline applies), else on
    a fresh one. ``preopens`` maps guest names to VFS directories (default {"/": "/"}).
    stdout/stderr: None captures into the result; a callable or binary file streams, then
    delivered per line unless ``line_buffered=False``. ``program_name`` overrides argv[0].
    ``limits`` (a ``Limits``): the filesystem's limits and the process's fd limit (a fresh
    filesystem gets ``Limits()`` when None). ``timeout``: seconds after which the program is
    interrupted (``Interrupted``), for programs that may never end; ``stop``: a
    ``threading.Event`` that interrupts it the same way once set (from any thread). Either
    stops it within about 10 ms, also while it sleeps or waits on a pipe. ``tty``: which of
    fds 0, 1, 2 say they are terminals (see start_wasi).

    A command runs its ``_start``. A reactor (``_initialize`` and no ``_start``) is
    initialised, and then, as under ``wasmtime run --invoke``, the export named ``invoke`` is
    called with ``invoke_args`` (numbers, checked against its parameter types) and its
    results are ``RunResult.results``; without ``invoke`` it is only initialised. ``invoke``
    on a command calls that export instead of ``_start`` (after ``_initialize`` if it has
    one), as wasmtime does. ``mounts`` / ``read_only_mounts``: guest directory -> host
    directory, each mounted lazily (``Wasi.mount_host_dir``: read from the host as the
    program touches it, changes kept in memory; read-only ones refuse changes with EPERM)
    and preopened under that guest name. ``imports``: the program's imports besides WASI's,
    as a mapping {module: {name: callable}} (called with the wasm arguments; each gets the type the
    program declares) or a ``wasmtime.Linker`` (its ``define_func`` definitions, e.g. with
    ``access_caller=True`` for a function that reads the caller's memory). Extra imports are
    functions only, since each run has a Store of its own: a memory, table or global, or a
    function defined in another Store, is refused (ProgramError).

    A trap raises wasmtime.Trap; a program that is not a WASI command or reactor, an import
    nothing provides or an export to invoke that is not a function, ProgramError; arguments
    of the wrong number or type, TypeError, and out of range, ValueError (all before the
    program starts); an exit status a host process cannot report, InvalidExitStatus."""
    if isinstance(args, (str, bytes)):
        raise TypeError("args must be a sequence of strings, not one string")
    check_stop(timeout, stop)
    lazy = lazy_mounts(mounts, read_only_mounts)
    if lazy:
        preopens = {**({"/": "/"} if preopens is None else preopens), **lazy_preopens(lazy)}
    module, name = load_program(program, imports=imports)
    info = program_info(module, name)
    arguments = invoke_arguments(info, name, invoke, invoke_args)
    name = program_name or name
    if line_buffered is None:
        line_buffered = stdout is not None or stderr is not None
    options = ProcessOptions(
        [name, *args], env, stdin, preopens, stdout, stderr, line_buffered, bridge, limits, tty
    )
    until = Stop.after(timeout, stop)
    # A Store of its own, closed when the program ends: nothing of the run stays behind.
    if wasi is not None:
        process = wasi.spawn_run(options)
    else:
        process = start_process(None, options, one_run=True)
    with process, stop_when(process.store, process.engine, until):
        mount_all(process, lazy)
        instance = process._instantiate(module, imports)
        calls = entry_calls(process.store, instance, info, invoke, arguments)
        code, returned = process.call_run(instance, calls)
        results = invoke_results(info, invoke, returned)
        return RunResult(code, process.stdout, process.stderr, results)


def entry_calls(
    store: wasmtime.Store,
    instance: wasmtime.Instance,
    info: ProgramInfo,
    invoke: str | None,
    arguments: Sequence[InvokeArg],
) -> list[tuple[wasmtime.Func, Sequence[InvokeArg]]]:
    """What a run calls, in order, as wasmtime run does: ``_initialize`` when the program
    exports it, then ``invoke`` if given, else a command's ``_start``."""
    exports = instance.exports(store)
    names = [INITIALIZE] if INITIALIZE in info.exports else []
    if invoke is not None:
        # Initialising twice would trap in wasi-libc: invoking _initialize calls it once.
        names = [*(item for item in names if item != invoke), invoke]
    elif info.is_command:
        names.append(START)
    calls: list[tuple[wasmtime.Func, Sequence[InvokeArg]]] = []
    for item in names:
        function = exports[item]
        assert isinstance(function, wasmtime.Func)  # program_info and invoke_arguments checked
        calls.append((function, arguments if item == invoke else ()))
    return calls


def invoke_arguments(
    info: ProgramInfo, name: str, invoke: str | None, invoke_args: Sequence[InvokeArg]
) -> tuple[InvokeArg, ...]:
    """``invoke_args`` as the export ``invoke`` takes them, or the error that says why they
    cannot be passed to it (before the program starts)."""
    if isinstance(invoke_args, (str, bytes)) or not isinstance(invoke_args, Sequence):
        raise TypeError("invoke_args must be a sequence of numbers")
    if invoke is None:
        if invoke_args:
            raise TypeError("invoke_args without invoke: name the export to call")
        return ()
    if not isinstance(invoke, str):
        raise TypeError(f"invoke must be an export's name, not {type(invoke).__name__}")
    function = info.exports.get(invoke)
    if function is None:
        raise ProgramError(f"{name}: exports no function named {invoke!r}")
    if not isinstance(function, wasmtime.FuncType):
        raise ProgramError(f"{name}: its export {invoke!r} is not a function")
    params = [str(param) for param in function.params]
    if len(invoke_args) != len(params):
        raise TypeError(
            f"{invoke} takes {len(params)} argument{'' if len(params) == 1 else 's'} "
            f"({', '.join(params)}), got {len(invoke_args)}"
        )
    return tuple(
        _wasm_argument(f"{invoke} argument {position} ({param})", param, value)
        for position, (param, value) in enumerate(zip(params, invoke_args, strict=True), 1)
    )


def _wasm_argument(where: str, param: str, value: object) -> InvokeArg:
    """``value`` as wasmtime-py passes it to a ``param``: wasmtime-py would wrap an int out
    of range silently and pass True as 1."""
    if isinstance(value, bool):
        raise TypeError(f"{where} must be a number, not a bool")
    bits = _INTEGER_BITS.get(param)
    if bits is not None:
        if not isinstance(value, int):
            raise TypeError(f"{where} must be an int, not {type(value).__name__}")
        if not -(1 << (bits - 1)) <= value < 1 << bits:
            raise ValueError(f"{where}: {value} does not fit in {bits} bits")
        # An unsigned reading of the bits (0xffffffff for an i32) is the same signed value.
        return value - (1 << bits) if value >= 1 << (bits - 1) else value
    if param in _FLOAT_TYPES:
        if not isinstance(value, (int, float)):
            raise TypeError(f"{where} must be a float, not {type(value).__name__}")
        return float(value)
    raise TypeError(f"{where}: invoke passes numbers only, not a {param}")


def invoke_results(
    info: ProgramInfo, invoke: str | None, returned: list[Any] | None
) -> tuple[Any, ...]:
    """What the invoked export returned, one value per wasm result (wasmtime-py gives None for
    none, the value for one and a list for several); empty when the program exited first."""
    function = info.exports.get(invoke) if invoke is not None else None
    if not isinstance(function, wasmtime.FuncType) or returned is None:
        return ()
    count = len(function.results)
    if count == 0:
        return ()
    return (returned[-1],) if count == 1 else tuple(returned[-1])
