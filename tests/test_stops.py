"""How runs end when the program does not end well: a timeout, a stop event or Ctrl-C stops
a program at once even while it waits (a sleep, an empty or full pipe); an exit status that
a host process cannot report is an error, never a status; an odd module is refused with one
clear error; and nothing of a run that ended badly stays in memory waiting for the cycle
collector."""

from __future__ import annotations

import contextlib
import gc
import os
import re
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import wasmtime

import wasi_wasm
from cli_run import assert_usage_error, cli, cli_env
from test_faults import pattern
from wasi_wasm import _run
from wasi_wasm._wasi import InvalidExitStatus, start_process

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


# -- 1. timeouts and stop events stop waiting programs at once -------------------------------
def test_a_timeout_stops_a_sleeping_program(waiter: Path) -> None:
    with wasi_wasm.start_wasi() as fs:
        clock = Clock()
        with pytest.raises(wasi_wasm.Interrupted):
            fs.run(waiter, ["sleep", "60"], timeout=TIMEOUT)
        assert_stopped_promptly(clock)
        assert fs.fsck() == 0


@pytest.mark.parametrize("sequential", [False, True], ids=["concurrent", "sequential"])
def test_a_timeout_stops_a_pipeline_whose_reader_waits_on_an_empty_pipe(
    waiter: Path, sequential: bool
) -> None:
    """The writer never writes and keeps its end open: the reader waits in fd_read."""
    with wasi_wasm.start_wasi() as fs:
        clock = Clock()
        with pytest.raises(wasi_wasm.Interrupted):
            wasi_wasm.run_pipeline(
                [(waiter, ["sleep", "60"]), (waiter, ["read"])], wasi=fs, timeout=TIMEOUT,
                sequential=sequential,
            )  # fmt: skip
        assert_stopped_promptly(clock)
        assert fs.fsck() == 0


def test_a_timeout_stops_a_pipeline_whose_writer_waits_on_a_full_pipe(waiter: Path) -> None:
    """The reader never reads: the writer fills the pipe and waits in fd_write."""
    with wasi_wasm.start_wasi() as fs:
        clock = Clock()
        with pytest.raises(wasi_wasm.Interrupted):
            wasi_wasm.run_pipeline(
                [(waiter, ["write"]), (waiter, ["sleep", "60"])], wasi=fs, timeout=TIMEOUT
            )
        assert_stopped_promptly(clock)
        assert fs.fsck() == 0


@pytest.mark.parametrize("pipeline", [False, True], ids=["run", "run_pipeline"])
def test_a_stop_event_set_by_another_thread_stops_waiting_programs(
    waiter: Path, pipeline: bool
) -> None:
    stop = threading.Event()
    setter = threading.Timer(TIMEOUT, stop.set)
    with wasi_wasm.start_wasi() as fs:
        clock = Clock()
        setter.start()
        with pytest.raises(wasi_wasm.Interrupted):
            if pipeline:
                commands = [(waiter, ["write"]), (waiter, ["sleep", "60"])]
                wasi_wasm.run_pipeline(commands, wasi=fs, stop=stop)
            else:
                fs.run(waiter, ["sleep", "60"], stop=stop)
        assert_stopped_promptly(clock)
        assert fs.fsck() == 0
        assert fs.run(waiter, ["exit", "0"], stop=threading.Event()).exit_code == 0


@pytest.mark.parametrize(
    ("keyword", "bad"),
    [("timeout", 0), ("timeout", -1.0), ("timeout", "1"), ("stop", True), ("stop", "yes")],
)
def test_run_pipeline_checks_timeout_and_stop_as_run_does(
    waiter: Path, keyword: str, bad: object
) -> None:
    arguments: dict[str, Any] = {keyword: bad}
    with pytest.raises((ValueError, TypeError), match=f"^{keyword} must"):
        wasi_wasm.run_pipeline([(waiter, ["exit", "0"])], **arguments)
    with pytest.raises((ValueError, TypeError), match=f"^{keyword} must"):
        wasi_wasm.run(waiter, ["exit", "0"], **arguments)


def test_run_pipeline_applies_limits_to_every_program(wasm_program: Callable[..., Path]) -> None:
    """harden_limits fds 8 passes only if its process gets EMFILE at 8 open fds."""
    limits_program = wasm_program("harden_limits")
    command = (limits_program, ["fds", "8"])
    box = {"/sandbox": "/sandbox"}
    tight = wasi_wasm.run_pipeline([command], preopens=box, limits=wasi_wasm.Limits(max_fds=8))
    assert tight.exit_codes == (0,), tight.stdout.decode()
    assert wasi_wasm.run_pipeline([command], preopens=box).exit_codes != (0,)


def test_cli_run_timeout_stops_a_sleeping_program(waiter: Path) -> None:
    clock = Clock()
    result = cli("run", "--timeout", str(TIMEOUT), waiter, "sleep", "60")
    assert clock.elapsed() < TIMEOUT + PROMPTLY + 3  # + the CLI's own start
    assert result.returncode == 124
    assert result.stderr.decode().splitlines() == [
        f"wasi-wasm: {waiter}: stopped after {TIMEOUT} s (--timeout)"
    ]


def test_cli_pipe_has_a_timeout(waiter: Path) -> None:
    clock = Clock()
    result = cli("pipe", "--timeout", str(TIMEOUT), waiter, "sleep", "60", "|", waiter, "read")
    assert clock.elapsed() < TIMEOUT + PROMPTLY + 3
    assert result.returncode == 124
    assert result.stderr.decode().splitlines() == [
        "started",
        f"wasi-wasm: pipe: stopped after {TIMEOUT} s (--timeout)",
    ]


def test_cli_pipe_has_the_limits_of_run(wasm_program: Callable[..., Path], tmp_path: Path) -> None:
    """harden_limits passes only if it meets exactly these limits."""
    limits_program = wasm_program("harden_limits")
    box = f"{tmp_path}::/sandbox"
    fds = cli("pipe", "--dir", box, "--max-fds", "9", limits_program, "fds", "9")
    assert fds.returncode == 0, fds.stdout.decode()
    space = cli("pipe", "--dir", box, "--max-fs-bytes", "3MiB", limits_program, "space")
    assert space.returncode == 0, space.stdout.decode()
    assert b"create files until none fits: ENOSPC" in space.stdout
    assert_usage_error(cli("pipe", "--max-fds", "many", limits_program), "--max-fds")
    assert_usage_error(cli("pipe", "--timeout", "0", limits_program), "--timeout")


# -- 2. Ctrl-C stops `wasi-wasm run` and `wasi-wasm pipe` as cleanly as a timeout -----------
# The CLI as an interactive shell starts it: SIGINT raises KeyboardInterrupt (a test runner
# may have started these tests with SIGINT ignored, which its children would inherit).
LAUNCHER = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from wasi_wasm.cli import main; sys.exit(main())"
)


class CliProcess:
    def __init__(self, *args: str | Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, *(os.fsencode(arg) for arg in args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(),
        )  # fmt: skip
        self.watchdog = threading.Timer(120, self.process.kill)
        self.watchdog.start()

    def read_line(self, stderr: bool = False) -> bytes:
        stream = self.process.stderr if stderr else self.process.stdout
        assert stream is not None
        return stream.readline()

    def interrupt(self) -> tuple[int, bytes, bytes, float]:
        """Ctrl-C: (exit code, rest of stdout, rest of stderr, seconds it took to exit)."""
        clock = Clock()
        self.process.send_signal(signal.SIGINT)
        stdout, stderr = self.process.communicate(timeout=60)
        self.watchdog.cancel()
        return self.process.returncode, stdout, stderr, clock.elapsed()


@pytest.fixture
def cli_processes() -> Iterator[list[CliProcess]]:
    started: list[CliProcess] = []
    yield started
    for each in started:
        each.watchdog.cancel()
        if each.process.poll() is None:
            each.process.kill()
            each.process.wait()


@pytest.mark.parametrize("mode", ["sleep", "spin"])
def test_ctrl_c_stops_cli_run_with_exit_130_and_one_line(
    waiter: Path, mode: str, cli_processes: list[CliProcess]
) -> None:
    """sleep: waiting in poll_oneoff; spin: computing, making no WASI call."""
    running = CliProcess("run", waiter, mode, *(["60"] if mode == "sleep" else []))
    cli_processes.append(running)
    assert running.read_line() == b"started\n"
    code, stdout, stderr, seconds = running.interrupt()
    assert (code, stdout) == (130, b"")
    assert stderr.decode().splitlines() == [f"wasi-wasm: {waiter}: stopped by Ctrl-C (SIGINT)"]
    assert seconds < PROMPTLY


def test_ctrl_c_stops_every_program_of_cli_pipe(
    waiter: Path, cli_processes: list[CliProcess]
) -> None:
    running = CliProcess("pipe", waiter, "sleep", "60", "|", waiter, "read")
    cli_processes.append(running)
    assert running.read_line(stderr=True) == b"started\n"  # the reader is waiting
    code, stdout, stderr, seconds = running.interrupt()
    assert (code, stdout) == (130, b"")
    assert stderr.decode().splitlines() == ["wasi-wasm: pipe: stopped by Ctrl-C (SIGINT)"]
    assert seconds < PROMPTLY


@pytest.mark.parametrize("how", ["ctrl-c", "timeout"])
def test_a_stopped_program_has_its_finished_work_written_back(
    worker: Path, tmp_path: Path, how: str, cli_processes: list[CliProcess]
) -> None:
    """--write-back after Ctrl-C does what it does after --timeout: it mirrors the VFS as the
    program left it (as wasmtime leaves a killed program's files on the host), and that VFS
    is consistent: every file the program had finished is there, whole."""
    timeout = ["--timeout", "0.3"] if how == "timeout" else []
    running = CliProcess(
        "run", "--dir", f"{tmp_path}::{WORK}", "--write-back", *timeout, worker, WORK, "w", "spin"
    )
    cli_processes.append(running)
    closed = [running.read_line() for _ in range(3)]
    if how == "timeout":
        stdout, stderr = running.process.communicate(timeout=60)
        code = running.process.returncode
    else:
        code, stdout, stderr, _seconds = running.interrupt()
    assert code == (130 if how == "ctrl-c" else 124)
    assert len(stderr.decode().splitlines()) == 1
    lines = (b"".join(closed) + stdout).decode().splitlines()
    finished = [int(line.removeprefix("closed w-")) for line in lines if line.startswith("closed")]
    assert len(finished) >= 3
    for number in finished:
        assert (tmp_path / f"w-{number}").read_bytes() == pattern("w", number)


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


# -- 5. a run that ended badly leaves no reference cycle -------------------------------------
@pytest.fixture
def no_cycle_collector() -> Iterator[None]:
    """Only reference counting frees memory: whatever a cycle holds stays."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


ENDINGS = ["exit-0", "proc_exit-3", "trap", "timeout", "stop-event", "exit-status-256"]


def ending(name: str) -> tuple[list[str], dict[str, Any]]:
    """The program's arguments and the run's options for an ending of ENDINGS."""
    stopped = threading.Event()
    stopped.set()
    cases: dict[str, tuple[list[str], dict[str, Any]]] = {
        "exit-0": (["exit", "0"], {}),
        "proc_exit-3": (["exit", "3"], {}),
        "trap": (["trap"], {}),
        "timeout": (["sleep", "60"], {"timeout": 0.1}),
        "stop-event": (["sleep", "60"], {"stop": stopped}),
        "exit-status-256": (["exit", "256"], {}),
    }
    return cases[name]


def run_and_forget(run: Callable[..., object], *args: Any, **options: Any) -> None:
    """Run, dropping the result or the error (and with it its traceback) at once."""
    with contextlib.suppress(wasmtime.WasmtimeError, wasmtime.Trap):
        run(*args, **options)


@pytest.mark.parametrize("how", ENDINGS)
@pytest.mark.usefixtures("no_cycle_collector")
def test_a_closed_wasi_is_freed_whatever_its_last_program_did(waiter: Path, how: str) -> None:
    args, options = ending(how)
    fs = wasi_wasm.start_wasi()
    freed: list[weakref.ref[Any]] = [weakref.ref(fs), weakref.ref(fs.memory)]
    run_and_forget(fs.run, waiter, args, **options)
    fs.close()
    del fs
    assert [ref() for ref in freed] == [None, None]


@pytest.mark.parametrize("how", ENDINGS)
@pytest.mark.usefixtures("no_cycle_collector")
def test_run_frees_its_filesystem_whatever_the_program_did(
    waiter: Path, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, options = ending(how)
    made: list[weakref.ref[Any]] = []

    def watched_start_process(*arguments: Any, **keywords: Any) -> wasi_wasm.Wasi:
        process = start_process(*arguments, **keywords)
        made.extend((weakref.ref(process), weakref.ref(process.memory)))
        return process

    monkeypatch.setattr(_run, "start_process", watched_start_process)
    run_and_forget(wasi_wasm.run, waiter, args, **options)
    assert made and [ref() for ref in made] == [None] * len(made)


@pytest.mark.parametrize("sequential", [False, True], ids=["concurrent", "sequential"])
@pytest.mark.parametrize("how", ["trap", "timeout", "exit-status-256"])
@pytest.mark.usefixtures("no_cycle_collector")
def test_a_pipeline_that_failed_leaves_its_filesystem_free(
    waiter: Path, how: str, sequential: bool
) -> None:
    args, options = ending(how)
    fs = wasi_wasm.start_wasi()
    freed: list[weakref.ref[Any]] = [weakref.ref(fs), weakref.ref(fs.memory)]
    commands = [(waiter, args), (waiter, ["read"])]
    run_and_forget(wasi_wasm.run_pipeline, commands, wasi=fs, sequential=sequential, **options)
    fs.close()
    del fs
    assert [ref() for ref in freed] == [None, None]
