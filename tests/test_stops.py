"""How runs end when the program does not end well: a timeout, a stop event or Ctrl-C stops
a program at once even while it waits (a sleep, an empty or full pipe); an exit status that
a host process cannot report is an error, never a status; an odd module is refused with one
clear error; and nothing of a run that ended badly stays in memory waiting for the cycle
collector."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

import wasi_wasm
from cli_run import assert_usage_error, cli
from wasi_wasm._wasi import InvalidExitStatus

TIMEOUT = 0.5
# A stopped program must be gone this long after its time (the machines here are shared).
PROMPTLY = 1.5
WORK = "/work"


@pytest.fixture(scope="module")
def waiter(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("stops_wait")


@pytest.fixture(scope="module")
def worker(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("harden_worker")


class Clock:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def assert_stopped_promptly(clock: Clock) -> None:
    elapsed = clock.elapsed()
    assert TIMEOUT <= elapsed < TIMEOUT + PROMPTLY, elapsed


# -- 3. exit statuses a host process cannot report -------------------------------------------
def wasmtime_wasi_exit(program: Path, status: int) -> BaseException | int:
    """What wasmtime-py's own WASI does with proc_exit(status): the error, or the code."""
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    config = wasmtime.WasiConfig()
    config.argv = ["stops_wait", "exit", str(status)]
    store.set_wasi(config)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    instance = linker.instantiate(store, wasmtime.Module.from_file(engine, str(program)))
    start = instance.exports(store)["_start"]
    assert isinstance(start, wasmtime.Func)
    try:
        start(store)
    except wasmtime.ExitTrap as exit_trap:
        return exit_trap.code
    except wasmtime.WasmtimeError as error:
        return error
    return 0


def test_wasmtime_refuses_exit_statuses_from_126_with_an_error(waiter: Path) -> None:
    """The reference this host follows for the statuses it cannot report."""
    assert wasmtime_wasi_exit(waiter, 125) == 125
    for status in (126, 256):
        refused = wasmtime_wasi_exit(waiter, status)
        assert isinstance(refused, wasmtime.WasmtimeError)
        assert not isinstance(refused, (wasmtime.ExitTrap, wasmtime.Trap))
        assert "exit with invalid exit status outside of [0..126)" in str(refused)


@pytest.mark.parametrize("status", [256, 257, 511, 2**32 - 1])
def test_an_exit_status_above_255_is_an_error_never_a_status(waiter: Path, status: int) -> None:
    with wasi_wasm.start_wasi() as fs:
        with pytest.raises(InvalidExitStatus, match="invalid exit status") as raised:
            fs.run(waiter, ["exit", str(status)])
        assert raised.value.code == status
        assert isinstance(raised.value, wasmtime.WasmtimeError)  # as wasmtime-py's is
        assert fs.fsck() == 0
        assert fs.run(waiter, ["exit", "255"]).exit_code == 255  # the largest one reported


@pytest.mark.parametrize("command", ["run", "pipe"])
def test_cli_exits_1_with_one_line_for_an_exit_status_above_255(waiter: Path, command: str) -> None:
    """Exit code 1, as wasmtime's CLI gives for the statuses it refuses (256 would read as 0,
    success, if passed on)."""
    result = cli(command, waiter, "exit", "256")
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and "invalid exit status 256" in lines[0], lines
    assert cli(command, waiter, "exit", "255").returncode == 255


# -- 4. odd modules: one line and exit 2 from the CLI, ProgramError from Python --------------
ODD_MODULES = {
    "start-takes-a-parameter": (
        '(module (memory (export "memory") 1) (func (export "_start") (param i32)))',
        "(i32) -> ()",
    ),
    "start-returns-a-value": (
        '(module (memory (export "memory") 1) (func (export "_start") (result i32) i32.const 0))',
        "() -> (i32)",
    ),
    "memory64": ('(module (memory (export "memory") i64 1) (func (export "_start")))', "64-bit"),
    "imports-a-shared-memory": (
        '(module (import "env" "memory" (memory 1 1 shared)) (func (export "_start")))',
        "env.memory",
    ),
    "imports-a-wasi-name-as-a-memory": (
        '(module (import "wasi_snapshot_preview1" "fd_write" (memory 1))'
        ' (memory (export "memory") 1) (func (export "_start")))',
        "wasi_snapshot_preview1.fd_write",
    ),
    "no-memory-export": ('(module (func (export "_start")))', "memory"),
    "memory-export-is-a-function": (
        '(module (func (export "memory")) (func (export "_start")))',
        "memory",
    ),
}


@pytest.fixture(params=list(ODD_MODULES))
def odd_module(request: pytest.FixtureRequest) -> tuple[bytes, str]:
    wat, words = ODD_MODULES[request.param]
    return bytes(wasmtime.wat2wasm(wat)), words


def test_the_cli_refuses_an_odd_module_in_one_line(
    odd_module: tuple[bytes, str], tmp_path: Path
) -> None:
    module, words = odd_module
    program = tmp_path / "odd.wasm"
    program.write_bytes(module)
    assert_usage_error(cli("run", program), "odd.wasm", words)
    assert_usage_error(cli("pipe", program), "odd.wasm", words)


def test_python_refuses_an_odd_module_with_a_program_error(odd_module: tuple[bytes, str]) -> None:
    module, words = odd_module
    with pytest.raises(wasi_wasm.ProgramError, match=re.escape(words)):
        wasi_wasm.run(module)
    with pytest.raises(ValueError, match=r"program\.wasm"):  # ProgramError is a ValueError
        wasi_wasm.run_pipeline([module])


def test_a_file_that_is_not_wasm_is_refused(tmp_path: Path) -> None:
    program = tmp_path / "notes.txt"
    program.write_bytes(b"just text\n")
    assert_usage_error(cli("run", program), "notes.txt", "not a WebAssembly module")
    with pytest.raises(wasi_wasm.ProgramError, match="not a WebAssembly module"):
        wasi_wasm.run(program)
