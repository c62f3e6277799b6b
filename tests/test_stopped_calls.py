"""Calls stopped where they had freed memory that something still named (a terminated
Worker, which its page then reaps; or a trap, which its host recovers from).

Each test uses a core built with -DSTOP_WINDOW=n (dev/base/stop_test.h), which traps at a
point where the real core has a stop point (a call): after a block went back to the
allocator and before what named it let go. The harm shows when the block is handed out
again: a later file's bytes read through the stopped file, or a write through a closed fd
landing in another file. Each window now lets go first and frees after, so the stop leaves
a leak (a block never freed) at most.

A large write stopped in its copy is also here (no knob: the copy hook raises): under the
lock exclusive a write placed a new chunk it covers whole unzeroed even inside the file's
size (a hole it fills), where the reap's cut back to the size does not reach."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import wasmtime

import wasm_build
from test_stopped_writes import (
    ALL_RIGHTS,
    helper_process,
    open_file,
)
from wasi_wasm import get_wasi, start_wasi
from wasi_wasm._process import CoreProcess

O_TRUNC = 8
EBADF = 8


def stop_core(window: int) -> Path:
    return wasm_build.compile_core(f"stop-{window}", (f"-DSTOP_WINDOW={window}",))


def call_with_name(process: CoreProcess, function: str, name: bytes, *rest: int) -> int:
    """function(fd 3, name, len, *rest) with name in a scratch buffer."""
    with process.scratch(len(name)) as path:
        process.memory.write(path, name)
        return int(process.call(function, 3, path, len(name), *rest))


def pwrite(process: CoreProcess, fd: int, data: bytes, offset: int) -> int:
    with process.scratch(len(data) + 16) as buf:
        iovec = buf + len(data)
        process.memory.write(buf, data)
        process.memory.write(iovec, struct.pack("<II", buf, len(data)))
        assert process.call("fd_pwrite", fd, iovec, 1, offset, iovec + 8) == 0
        return int.from_bytes(process.memory.read(iovec + 8, 4), "little")


def pread(process: CoreProcess, fd: int, length: int, offset: int) -> bytes:
    with process.scratch(length + 16) as buf:
        iovec = buf + length
        process.memory.write(iovec, struct.pack("<II", buf, length))
        assert process.call("fd_pread", fd, iovec, 1, offset, iovec + 8) == 0
        got = int.from_bytes(process.memory.read(iovec + 8, 4), "little")
        return process.memory.read(buf, got)


def open_truncating(process: CoreProcess, name: bytes) -> int:
    with process.scratch(len(name) + 4) as path:
        process.memory.write(path, name)
        out = path + len(name)
        return int(process.call("path_open", 3, 0, path, len(name), O_TRUNC, ALL_RIGHTS, 0, 0, out))


def reap(reaper: CoreProcess, dead: CoreProcess) -> int:
    return int(reaper.call("wasi_wasm_reap", dead.call("wasi_wasm_process_id")))


def test_a_close_stopped_after_freeing_its_file_leaves_no_fd_to_it() -> None:
    """The last close of an unlinked file (exclusive: fd_release) freed the file, then
    stopped before the fd let go of it: the fd still named the freed inode. Recovered, the
    process wrote through it into the next file made; reaped, the reap closed it again."""
    with start_wasi(get_wasi(stop_core(1))) as w:
        w.write_file("/victim", b"v" * 100)
        stopped = helper_process(w)
        fd = open_file(stopped, b"victim")
        assert call_with_name(stopped, "path_unlink_file", b"victim") == 0
        with pytest.raises(wasmtime.Trap):
            stopped.call("fd_close", fd)
        assert stopped.call("wasi_wasm_recover") == 1
        assert w.fsck() == 0
        w.write_file("/other", b"o" * 100)  # its inode takes the freed one's block
        with stopped.scratch(32) as buf:
            stopped.memory.write(buf, b"XXXX" + struct.pack("<II", buf, 4))
            written = stopped.call("fd_write", fd, buf + 4, 1, buf + 12)
        assert w.read_file("/other") == b"o" * 100
        assert written == EBADF
        assert w.fsck() == 0
        stopped.detach()
        assert w.fsck() == 0
