"""What every run of a program does once its process exists, whatever started that process
(``run``, ``Wasi.run``, ``run_pipeline``): check the program and the export to invoke,
instantiate it, make the calls of a command or reactor, and collect the result."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol

import wasmtime

from ._options import Options
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
from ._timeout import Stop, stop_when

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


class RunProcess(Protocol):
    """What a run needs of the process it runs in (a Wasi from ``spawn_run``)."""

    @property
    def store(self) -> wasmtime.Store: ...
    @property
    def engine(self) -> wasmtime.Engine: ...
    @property
    def stdout(self) -> bytes: ...
    @property
    def stderr(self) -> bytes: ...
    def instantiate_program(
        self, module: wasmtime.Module, imports: ExtraImports | None = None
    ) -> wasmtime.Instance: ...
    def call_run(
        self, instance: wasmtime.Instance, calls: Sequence[tuple[wasmtime.Func, Sequence[Any]]]
    ) -> tuple[int, list[Any] | None]: ...


@dataclasses.dataclass(frozen=True)
class PreparedRun:
    """A program checked and loaded for one run, before its process exists."""

    module: wasmtime.Module
    info: ProgramInfo
    argv: list[str | bytes]
    invoke: str | None
    arguments: tuple[InvokeArg, ...]
    imports: ExtraImports | None
    options: Options  # for the process: the run's own timeout and stop taken out
    until: Stop | None  # when the run is interrupted, counted from prepare_run


def prepare_run(
    program: Program,
    args: Sequence[str | bytes],
    options: Options,
    *,
    program_name: str | None = None,
    invoke: str | None = None,
    invoke_args: Sequence[InvokeArg] = (),
    imports: ExtraImports | None = None,
) -> PreparedRun:
    """Everything that can be refused before the program starts (see ``wasi_wasm.run``)."""
    if isinstance(args, (str, bytes)):
        raise TypeError("args must be a sequence of strings, not one string")
    module, name = load_program(program, imports=imports)
    info = program_info(module, name)
    arguments = invoke_arguments(info, name, invoke, invoke_args)
    until = options.until()
    process_options = dataclasses.replace(
        options, line_buffered=options.streams_line_buffered(), timeout=None, stop=None
    )
    argv: list[str | bytes] = [program_name or name, *args]
    return PreparedRun(module, info, argv, invoke, arguments, imports, process_options, until)


def execute_run(process: RunProcess, run: PreparedRun) -> RunResult:
    """Run the prepared program in ``process`` (a process for this run alone)."""
    with stop_when(process.store, process.engine, run.until):
        instance = process.instantiate_program(run.module, run.imports)
        calls = entry_calls(process.store, instance, run.info, run.invoke, run.arguments)
        code, returned = process.call_run(instance, calls)
        results = invoke_results(run.info, run.invoke, returned)
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
