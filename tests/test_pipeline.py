"""Pipes and pipelines: run_pipeline() (concurrent and sequential), the low-level Pipe API,
and `wasi-wasm pipe`."""

from __future__ import annotations

import errno
import functools
import re
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
import wasmtime

import wasi_wasm
from cli_run import assert_usage_error, cli
from wasi_wasm import ProgramError, run_pipeline, start_wasi

MIB = 1 << 20
RING = 64 * 1024  # the core's pipe capacity
T = TypeVar("T")


@pytest.fixture(scope="module")
def tool(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("share_pipe")


def lcg_bytes(count: int, seed: int) -> bytes:
    """What `share_pipe gen COUNT SEED` writes."""
    state = seed
    out = bytearray(count)
    for i in range(count):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        out[i] = state >> 24
    return bytes(out)


def start(process: wasi_wasm.Wasi, module: wasmtime.Module) -> int:
    return process.start(wasmtime.Instance(process.store, module, process.imports_for(module)))


def summary(data: bytes) -> bytes:
    """What `share_pipe sum` prints for ``data``."""
    return b"%d %08x\n" % (len(data), zlib.crc32(data))


def within(seconds: float, function: Callable[[], T]) -> T:
    """Run ``function`` in a thread; fail (instead of hanging the suite) if it takes longer."""
    outcome: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(function())
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: a pipe end was not closed"
    if errors:
        raise errors[0]
    return outcome[0]


@pytest.fixture(scope="module")
def generated(tool: Path) -> bytes:
    """6 MiB from `gen`, captured by the host (not through a pipe)."""
    result = wasi_wasm.run(tool, ["gen", str(6 * MIB), "11"])
    assert result.exit_code == 0
    assert result.stdout[:20000] == lcg_bytes(20000, 11)
    return result.stdout


# -- run_pipeline, concurrent ----------------------------------------------------------------
def test_a_pipe_between_two_running_programs_carries_megabytes_intact(
    tool: Path, generated: bytes
) -> None:
    # 6 MiB through a 64 KiB ring: only possible with both programs running at once.
    result = within(
        60, lambda: run_pipeline([(tool, ["gen", str(6 * MIB), "11"]), (tool, ["sum"])])
    )
    assert result.exit_codes == (0, 0)
    assert result.stdout == summary(generated)
    assert result.stderr == (b"", b"")
    assert result.exit_code == 0


def test_a_chain_of_pipes_transforms_the_stream(tool: Path, generated: bytes) -> None:
    commands = [(tool, ["gen", str(6 * MIB), "11"]), (tool, ["upper"]), (tool, ["cat"]),
                (tool, ["sum"])]  # fmt: skip
    result = within(60, lambda: run_pipeline(commands))
    assert result.exit_codes == (0, 0, 0, 0)
    assert result.stdout == summary(generated.upper())


def test_the_first_program_reads_stdin_and_the_last_stdout_is_captured(tool: Path) -> None:
    result = run_pipeline([(tool, ["upper"]), (tool, ["cat"])], stdin=b"hello, pipes\n")
    assert result.stdout == b"HELLO, PIPES\n"
    assert run_pipeline([(tool, ["upper"])], stdin=b"one program").stdout == b"ONE PROGRAM"


def test_end_of_file_reaches_the_reader_when_its_writer_exits(tool: Path) -> None:
    data = lcg_bytes(300_000, 5)
    # `head` exits after 1000 bytes: `sum` sees end-of-file although `gen` is still running.
    result = within(30, lambda: run_pipeline(
        [(tool, ["gen", "300000", "5"]), (tool, ["head", "1000"]), (tool, ["sum"])]
    ))  # fmt: skip
    assert result.stdout == summary(data[:1000])
    assert result.exit_codes[1:] == (0, 0)
    # ... and `gen`, whose reader is gone, got EPIPE.
    assert result.exit_codes[0] == 3
    assert re.fullmatch(rb"gen: EPIPE after \d+ bytes\n", result.stderr[0])


def test_a_writer_whose_reader_is_gone_gets_epipe(tool: Path) -> None:
    result = within(
        30, lambda: run_pipeline([(tool, ["gen", str(MIB), "1"]), (tool, ["head", "0"])])
    )
    assert result.exit_codes == (3, 0)
    match = re.fullmatch(rb"gen: EPIPE after (\d+) bytes\n", result.stderr[0])
    assert match is not None, result.stderr
    # At most what fit in the ring before the reader left.
    assert int(match.group(1)) <= RING


def test_pipe_ends_are_fifos_to_the_programs(tool: Path) -> None:
    writer = run_pipeline([(tool, ["stat", "1"]), (tool, ["cat"])])
    assert writer.stdout == b"pipe\n"
    # (`cat` has nothing to write: `stat` not reading its stdin cannot make it see EPIPE.)
    reader = run_pipeline([(tool, ["cat"]), (tool, ["stat", "0"])])
    assert reader.stdout == b"pipe\n"
    assert writer.exit_codes == reader.exit_codes == (0, 0)


def test_fstat_works_on_pipe_ends(tool: Path) -> None:
    assert run_pipeline([(tool, ["fstat", "1"]), (tool, ["cat"])]).stdout == b"fstat ok\n"
    assert run_pipeline([(tool, ["cat"]), (tool, ["fstat", "0"])]).stdout == b"fstat ok\n"


def test_a_program_that_traps_closes_its_ends_and_the_trap_is_raised(tool: Path) -> None:
    with start_wasi() as wasi:
        start_bytes = wasi.used_bytes()
        for commands in (
            [(tool, ["gen", str(4 * MIB), "1"]), (tool, ["trap"]), (tool, ["sum"])],
            [(tool, ["trap"]), (tool, ["sum"])],
            [(tool, ["gen", str(4 * MIB), "1"]), (tool, ["trap"])],
        ):
            with pytest.raises(wasmtime.Trap, match="unreachable"):
                within(30, functools.partial(run_pipeline, commands, wasi=wasi))
        assert wasi.used_bytes() == start_bytes


def test_output_can_stream_to_callbacks_from_the_program_threads(tool: Path) -> None:
    out: list[bytes] = []
    err: list[bytes] = []
    result = run_pipeline(
        [(tool, ["gen", str(MIB), "2"]), (tool, ["head", "100"]), (tool, ["upper"])],
        stdout=out.append, stderr=err.append,
    )  # fmt: skip
    assert result.stdout == b""
    assert result.stderr == (b"", b"", b"")
    assert b"".join(out) == lcg_bytes(100, 2).upper()
    assert re.fullmatch(rb"gen: EPIPE after \d+ bytes\n", b"".join(err))


# -- sequential mode ------------------------------------------------------------------------
def test_sequential_mode_gives_the_same_stream(tool: Path, generated: bytes) -> None:
    commands = [(tool, ["gen", str(6 * MIB), "11"]), (tool, ["cat"]), (tool, ["sum"])]
    result = run_pipeline(commands, sequential=True)
    assert result.exit_codes == (0, 0, 0)
    assert result.stdout == summary(generated)


def test_sequential_mode_runs_each_program_to_its_end_first(tool: Path) -> None:
    # No pipe: `gen` wrote everything before `head` started, so it never saw EPIPE.
    result = run_pipeline([(tool, ["gen", "200000", "3"]), (tool, ["head", "10"])], sequential=True)
    assert result.exit_codes == (0, 0)
    assert result.stdout == lcg_bytes(10, 3)


# -- one filesystem --------------------------------------------------------------------------
@pytest.mark.parametrize("sequential", [False, True], ids=["concurrent", "sequential"])
def test_pipeline_programs_work_on_the_given_filesystem(tool: Path, sequential: bool) -> None:
    data = lcg_bytes(200_000, 9)
    with start_wasi() as wasi:
        wasi.mkdir("/data")
        wasi.rmdir("/data")
        start_bytes = wasi.used_bytes()
        stored = run_pipeline(
            [(tool, ["gen", "200000", "9"]), (tool, ["cat"]), (tool, ["tofile", "/box/out"])],
            wasi=wasi, preopens={"/box": "/data"}, sequential=sequential,
        )  # fmt: skip
        assert stored.stdout == b"200000\n"
        assert wasi.read_file("/data/out") == data
        back = run_pipeline(
            [(tool, ["fromfile", "/data/out"]), (tool, ["sum"])], wasi=wasi, sequential=sequential
        )
        assert back.stdout == summary(data)
        wasi.rmtree("/data")
        # Pipes, fd tables and stacks of every program are gone.
        assert wasi.used_bytes() == start_bytes
        assert wasi.fsck() == 0


def test_env_and_argv0_reach_every_program(tool: Path) -> None:
    with start_wasi() as wasi:
        result = run_pipeline(
            [(tool, ["unknown-command"]), (tool, ["cat"])], wasi=wasi, env={"A": "1"}
        )
        assert result.exit_codes == (2, 0)
        assert result.stderr[0] == b"share_pipe: unknown command unknown-command\n"


def test_bad_pipelines_are_refused_before_anything_runs(tool: Path) -> None:
    with pytest.raises(ValueError, match="at least one program"):
        run_pipeline([])
    with pytest.raises(ProgramError, match="not a WebAssembly module"):
        run_pipeline([(tool, ["cat"]), b"not wasm"])
    with pytest.raises(TypeError, match="not one string"):
        run_pipeline([(tool, "cat")])


# -- the Pipe API --------------------------------------------------------------------------
def test_pipe_api_connects_two_processes(tool: Path) -> None:
    module = wasi_wasm.load_program(tool)[0]
    with start_wasi() as wasi:
        start_bytes = wasi.used_bytes()
        writer = wasi.copy_for_rebinding(args=["gen", "gen", "50000", "4"])
        reader = wasi.copy_for_rebinding(args=["sum", "sum"])
        with wasi.pipe() as pipe:
            writer.attach_pipe(pipe, 1, write_end=True)
            reader.attach_pipe(pipe, 0, write_end=False)
        assert pipe.released
        pipe.release()  # idempotent
        with pytest.raises(ValueError, match="released"):
            reader.attach_pipe(pipe, 0, write_end=False)
        # Less than the ring holds, so one thread can run them one after the other; the
        # writer's end closes with its process, and the reader then sees end-of-file.
        with writer:
            assert start(writer, module) == 0
        with reader:
            assert start(reader, module) == 0
            assert reader.stdout == summary(lcg_bytes(50000, 4))
        assert wasi.used_bytes() == start_bytes


def test_attaching_to_a_bad_fd_is_an_error(tool: Path) -> None:
    del tool
    with start_wasi() as wasi, wasi.pipe() as pipe, pytest.raises(OSError):
        wasi.attach_pipe(pipe, 1 << 20, write_end=True)


def test_the_core_refuses_pipe_handles_it_did_not_hand_out() -> None:
    """A forged or stale handle is EBADF from the core (a validated handle), never a
    pointer: nothing is attached and the filesystem stays whole."""
    with start_wasi() as wasi:
        live = wasi.pipe()
        stale = wasi.pipe()
        stale_handle = stale.handle
        stale.release()
        for forged in (1, 17, live.handle + 1, live.handle ^ 0x10000, stale_handle, 0xFFFFFFFF):
            fake = wasi.pipe()
            real = fake.handle
            fake.handle = forged
            with pytest.raises(OSError) as refused:
                wasi.attach_pipe(fake, 5, write_end=True)
            assert refused.value.errno == errno.EBADF, forged
            fake.handle = real
            fake.release()
        live.release()
        assert wasi.fsck() == 0


# -- the command line ------------------------------------------------------------------------
def test_cli_pipe_runs_programs_connected(tool: Path) -> None:
    data = lcg_bytes(500_000, 8)
    result = cli("pipe", tool, "gen", "500000", "8", "|", tool, "--", "cat", "|", tool, "sum")
    assert result.returncode == 0, result.stderr
    assert result.stdout == summary(data)
    sequential = cli("pipe", "--sequential", "--", tool, "gen", "500000", "8", "|", tool, "sum")
    assert sequential.stdout == summary(data)


def test_cli_pipe_status_is_the_last_programs_and_stderr_is_shared(tool: Path) -> None:
    result = cli("pipe", tool, "gen", str(MIB), "1", "|", tool, "head", "5", "|", tool, "nope")
    assert result.returncode == 2
    assert b"gen: EPIPE after" in result.stderr
    assert b"share_pipe: unknown command nope" in result.stderr


def test_cli_pipe_stdin_and_dirs(tool: Path, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_bytes(b"from the host\n")
    result = cli(
        "pipe", "--stdin", tmp_path / "in.txt", "--dir", f"{tmp_path}::/work", "--write-back",
        tool, "upper", "|", tool, "tofile", "/work/out.txt",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"14\n"
    assert (tmp_path / "out.txt").read_bytes() == b"FROM THE HOST\n"
    piped = cli("pipe", "--stdin", "-", tool, "upper", stdin=b"abc")
    assert piped.stdout == b"ABC"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["pipe"], ["pipe needs programs"]),
        (["pipe", "{tool}", "cat", "|"], ["empty command"]),
        (["pipe", "|", "{tool}", "cat"], ["empty command"]),
        (["pipe", "{tool}", "|", "|", "{tool}"], ["empty command"]),
        (["pipe", "{tool}", "cat", "|", "missing.wasm"], ["missing.wasm"]),
        (["pipe", "--env", "=x", "{tool}", "cat"], ["--env"]),  # a bare NAME is valid: ours
    ],
)
def test_cli_pipe_bad_input_is_one_line_and_exit_2(
    tool: Path, args: list[str], words: list[str]
) -> None:
    result = cli(*(arg.replace("{tool}", str(tool)) for arg in args))
    assert_usage_error(result, *words)


def test_cli_pipe_trap_is_one_line_and_exit_134(tool: Path) -> None:
    result = cli("pipe", tool, "trap", "|", tool, "sum")
    assert result.returncode == 134
    lines = result.stderr.decode().splitlines()
    assert lines == ["wasi-wasm: pipe: wasm trap: wasm `unreachable` instruction executed"]
