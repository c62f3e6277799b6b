"""Several programs on one filesystem in one thread, like processes on one OS: the files are
shared, each program has its own fd table, and one program ending never disturbs another.

Two programs are open at once in one thread by nesting: program A reads its stdin (the
core calls the host's input hook with no lock held), and the host's stdin reader runs
program B to completion before answering, while A keeps its files open."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

import wasi_wasm
from wasi_wasm import Wasi, start_wasi


@pytest.fixture(scope="module")
def steps(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("share_files")


@pytest.fixture(scope="module")
def pipe_tool(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("share_pipe")


class RunBetweenSteps:
    """stdin for a share_files program: each "wait" step runs the next action, then lets
    the program go on."""

    def __init__(self, *actions: Callable[[], object]) -> None:
        self.actions = list(actions)

    def read(self, size: int = -1, /) -> bytes:
        del size
        if not self.actions:
            return b""
        self.actions.pop(0)()
        return b"\n"


def run_steps(wasi: Wasi, program: Path, *steps: str, stdin: RunBetweenSteps | None = None) -> str:
    result = wasi.run(program, steps, stdin=stdin if stdin is not None else b"")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout.decode()


def test_a_file_written_and_closed_by_one_program_is_visible_to_the_next(
    pipe_tool: Path,
) -> None:
    data = bytes(range(256)) * 1000
    with start_wasi() as wasi:
        result = wasi.run(pipe_tool, ["tofile", "/work/out.bin"], stdin=data,
                          preopens={"/work": "/shared/work"})  # fmt: skip
        assert result.stdout == b"256000\n"
        # The next program sees it at once, under another preopen name for the same directory.
        again = wasi.run(pipe_tool, ["fromfile", "box/out.bin"], preopens={"box": "/shared/work"})
        assert again.exit_code == 0
        assert again.stdout == data
        assert wasi.read_file("/shared/work/out.bin") == data


def test_processes_made_with_copy_for_rebinding_share_files(pipe_tool: Path) -> None:
    module = wasi_wasm.load_program(pipe_tool)[0]
    with start_wasi() as wasi:
        writer = wasi.copy_for_rebinding(args=["w", "tofile", "/f"], stdin=b"first program")
        reader = wasi.copy_for_rebinding(args=["r", "fromfile", "/f"])
        with writer, reader:
            for process in (writer, reader):
                instance = wasmtime.Instance(process.store, module, process.imports_for(module))
                assert process.start(instance) == 0
            assert reader.stdout == b"first program"


def test_two_programs_with_the_same_file_open_see_each_others_writes(steps: Path) -> None:
    with start_wasi() as wasi:
        seen: list[str] = []

        def second() -> None:
            # Sees A's write although A has not closed the file; writes after it.
            seen.append(run_steps(wasi, steps, "open:/f", "read:100", "write: world", "size"))

        def third() -> None:
            seen.append(run_steps(wasi, steps, "append:/f", "write:!", "close"))

        first = run_steps(
            wasi, steps,
            "open:/f", "write:hello", "wait", "size", "seek:0", "read:100", "wait", "read:100",
            "pread:6:5", "close",
            stdin=RunBetweenSteps(second, third),
        )  # fmt: skip
        # Each program has its own fd table: both got fd 4 (fd 3 is the preopened "/").
        assert seen == ["fd 4\nread [hello]\nsize 11\n", "fd 4\n"]
        assert first == "fd 4\nsize 11\nread [hello world]\nread [!]\npread [world]\n"
        assert wasi.read_file("/f") == b"hello world!"


def test_closing_or_exiting_one_program_leaves_the_others_fds_alone(steps: Path) -> None:
    with start_wasi() as wasi:
        wasi.write_file("/f", b"0123456789")
        start_bytes = wasi.used_bytes()
        others: list[str] = []

        def closes_everything() -> None:
            # Closes its own fd 4 and its preopen, then exits with /f still open as fd 5.
            others.append(run_steps(
                wasi, steps, "open:/f", "open:/f", "closefd:4", "closefd:3", "exit:0"
            ))  # fmt: skip

        def exits_with_the_file_open() -> None:
            # Same fd number as A's, left open by exiting: closed with its process only.
            others.append(run_steps(wasi, steps, "open:/f", "seek:2", "write:XY", "exit:0"))

        first = run_steps(
            wasi, steps,
            "open:/f", "read:3", "wait", "read:3", "wait", "read:100", "seek:0", "read:4",
            "close", "open:/g", "write:still works",
            stdin=RunBetweenSteps(closes_everything, exits_with_the_file_open),
        )  # fmt: skip
        assert others[0] == "fd 4\nfd 5\nclosefd 4 errno 0\nclosefd 3 errno 0\n"
        assert others[1] == "fd 4\n"
        assert first == "fd 4\nread [012]\nread [345]\nread [6789]\nread [01XY]\nfd 4\n"
        assert wasi.read_file("/g") == b"still works"
        wasi.remove("/g")
        # Every fd of the programs that exited was closed with them.
        assert wasi.used_bytes() == start_bytes
        assert wasi.fsck() == 0


def test_a_file_unlinked_by_one_program_stays_open_in_another(steps: Path) -> None:
    with start_wasi() as wasi:
        wasi.mkdir("/d")
        wasi.rmdir("/d")  # the root's entry index exists from now on
        start_bytes = wasi.used_bytes()

        def unlinks() -> None:
            assert run_steps(wasi, steps, "unlink:/f") == "unlink errno 0\n"

        first = run_steps(
            wasi, steps,
            "open:/f", "write:kept while open", "wait", "seek:0", "read:100", "size",
            "write:!", "pread:0:100", "close",
            stdin=RunBetweenSteps(unlinks),
        )  # fmt: skip
        assert first == "fd 4\nread [kept while open]\nsize 15\npread [kept while open!]\n"
        assert not wasi.exists("/f")
        # Its last close freed it.
        assert wasi.used_bytes() == start_bytes


def test_a_pickled_init_obj_starts_a_fresh_filesystem_in_another_process(
    pipe_tool: Path,
) -> None:
    with start_wasi() as wasi:
        wasi.write_file("/parent-only", b"stays in this process")
        data = pickle.dumps(wasi.init_obj())
        # The child process: the compiled module comes along, the memory does not.
        script = (
            "import pickle, sys, wasi_wasm\n"
            "init = pickle.loads(sys.stdin.buffer.read())\n"
            "assert init.memory is None\n"
            "with wasi_wasm.start_wasi(init) as fs:\n"
            "    assert fs.listdir('/') == [], fs.listdir('/')\n"
            "    result = fs.run(sys.argv[1], ['tofile', '/child'], stdin=b'child data')\n"
            "    assert result.exit_code == 0\n"
            "    other = wasi_wasm.start_wasi(fs.init_obj())\n"
            "    sys.stdout.buffer.write(other.read_file('/child'))\n"
            "    other.close()\n"
            "    sys.stdout.buffer.write(b' ' + b','.join(n.encode() for n in fs.listdir('/')))\n"
        )
        child = subprocess.run(
            [sys.executable, "-c", script, str(pipe_tool)],
            input=data, capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        assert child.returncode == 0, child.stderr.decode()
        assert child.stdout == b"child data child"
        # Nothing the child did reached this filesystem.
        assert wasi.listdir("/") == ["parent-only"]
