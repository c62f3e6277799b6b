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
