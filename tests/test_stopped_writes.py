"""A process stopped in the middle of a large write or a rename (a terminated Worker, which its page
then reaps; or a trap, which its host recovers from) leaves the file as a write that never
happened past its size: no chunk past the size, zeros past it in the last one.

A write that covers a chunk whole past the size places it unzeroed and moves the size past
it only after its bytes are in (dev/vfs/filedata.c), so a writer stopped in between left
another file's freed bytes there: fsck counted the chunks past the size, and a later
extension of the file showed the bytes. The process names the file it is filling
(struct process, writing), and its reap or recover cuts the file back to its size
(process_end_stopped_write). The stop is made here by a copy hook that raises once the
first chunk is in, as a terminate() landing in the copy would.

A shared-lock rename to a new name puts the new entry in before it takes the old one out;
a process stopped in between left two names for a file whose link count was 1, and a later
unlink of one freed the file under the other. The file now counts both names while it has
them (dev/vfs/dir.c, dir_rename_shared), so the stop leaves a hard link. The stop is made by
a core built with -DRENAME_TRAP_NAME, whose renames to that name trap there."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import wasmtime

import wasm_build
from test_reap import core_process
from wasi_wasm import Wasi, get_wasi, start_wasi
from wasi_wasm._bridge import COPY_TYPE
from wasi_wasm._hooks import Hook
from wasi_wasm._process import CoreProcess

CHUNK = 64 << 10
WRITTEN = 4 * CHUNK
ALL_RIGHTS = (1 << 29) - 1
O_CREAT = 1


class StoppedError(Exception):
    """What the copy hook raises: the program stops there."""


def open_file(process: CoreProcess, name: bytes) -> int:
    with process.scratch(len(name) + 4) as path:
        process.memory.write(path, name)
        # path_open(fd 3, no follow, name, O_CREAT, every right, 0, 0, out)
        out = path + len(name)
        assert process.call("path_open", 3, 0, path, len(name), O_CREAT, ALL_RIGHTS, 0, 0, out) == 0
        return int.from_bytes(process.memory.read(out, 4), "little")


def stop_copies_after(process: CoreProcess, copies: int) -> None:
    """The process's copy hook copies ``copies`` times, then raises: its guest memory is
    the core memory (bound so), so a copy is a move within it."""
    memory = process.memory
    left = [copies]

    def copy_in(_caller: wasmtime.Caller, core_dst: int, guest_src: int, length: int) -> None:
        if left[0] == 0:
            raise StoppedError
        left[0] -= 1
        moved = memory.read(guest_src & 0xFFFFFFFF, length & 0xFFFFFFFF)
        memory.write(core_dst & 0xFFFFFFFF, moved)

    hook = wasmtime.Func(process.store, COPY_TYPE, copy_in, access_caller=True)
    process.set_hook(Hook.COPY_IN, hook)


def helper_process(w: Wasi) -> CoreProcess:
    """A process of the test's own, with / preopened. Made before the stop: a new process
    takes the lock exclusive, which a stopped one holds shared until it is reaped."""
    process = core_process(w.init_obj())
    process.bind(process.memory.memory)
    process.preopen("/", "/")
    return process


@contextmanager
def stopped_in_a_write(w: Wasi) -> Iterator[CoreProcess]:
    """A process stopped in fd_write of 256 KiB of 0xAB to /big, after its first chunk's
    copy: chunks 1-3 are placed, the size has not moved. Freed chunks hold 0xCD first."""
    w.write_file("/junk", b"\xcd" * (1 << 20))
    w.remove("/junk")
    process = core_process(w.init_obj())
    process.bind(process.memory.memory, bridge=False)
    process.preopen("/", "/")
    fd = open_file(process, b"big")
    data = process.call("wasi_wasm_alloc", WRITTEN + 16)
    process.memory.write(data, b"\xab" * WRITTEN)
    iovec = data + WRITTEN
    process.memory.write(iovec, struct.pack("<II", data, WRITTEN))
    stop_copies_after(process, 1)
    with pytest.raises(Exception) as stopped:  # wasmtime wraps what the hook raised
        process.call("fd_write", fd, iovec, 1, iovec + 8)
    assert "StoppedError" in repr(stopped.value) or isinstance(stopped.value, StoppedError)
    yield process


def extended_bytes(reader: CoreProcess) -> bytes:
    """/big made WRITTEN bytes long by ftruncate and read back through reader."""
    fd = open_file(reader, b"big")
    assert reader.call("fd_filestat_set_size", fd, WRITTEN) == 0
    with reader.scratch(WRITTEN + 16) as buf:
        iovec = buf + WRITTEN
        reader.memory.write(iovec, struct.pack("<II", buf, WRITTEN))
        assert reader.call("fd_pread", fd, iovec, 1, 0, iovec + 8) == 0
        got = int.from_bytes(reader.memory.read(iovec + 8, 4), "little")
        data = reader.memory.read(buf, got)
    assert reader.call("fd_close", fd) == 0
    return data


def test_a_reaped_writer_leaves_nothing_past_the_size() -> None:
    with start_wasi() as w:
        reaper = helper_process(w)
        with stopped_in_a_write(w) as dead:
            id_ = dead.call("wasi_wasm_process_id")
            assert reaper.call("wasi_wasm_reap", id_) == 1  # it held the lock shared
            assert w.fsck() == 0
            assert w.stat("/big").size == 0
            assert extended_bytes(reaper) == bytes(WRITTEN)
            reaper.detach()
        assert w.fsck() == 0


def test_a_recovered_writer_leaves_nothing_past_the_size() -> None:
    with start_wasi() as w:
        with stopped_in_a_write(w) as stopped:
            assert stopped.call("wasi_wasm_recover") == 1
            assert w.fsck() == 0
            assert w.stat("/big").size == 0
            stopped.bind(stopped.memory.memory)  # its copies work again
            assert extended_bytes(stopped) == bytes(WRITTEN)
            stopped.detach()
        assert w.fsck() == 0


@pytest.fixture(scope="module")
def rename_trap_core() -> Path:
    return wasm_build.compile_core("rename-trap", ('-DRENAME_TRAP_NAME="moved"',))


def test_a_rename_stopped_between_its_entries_leaves_a_hard_link(rename_trap_core: Path) -> None:
    with start_wasi(get_wasi(rename_trap_core)) as w:
        w.write_file("/a", b"data")
        reaper = helper_process(w)
        dead = helper_process(w)
        with dead.scratch(8) as names:
            dead.memory.write(names, b"amoved")
            with pytest.raises(wasmtime.Trap):
                dead.call("path_rename", 3, names, 1, 3, names + 1, 5)
        assert reaper.call("wasi_wasm_reap", dead.call("wasi_wasm_process_id")) == 1
        assert w.fsck() == 0
        assert (w.stat("/a").nlink, w.stat("/moved").nlink) == (2, 2)
        w.remove("/a")
        assert w.fsck() == 0
        assert w.read_file("/moved") == b"data"
        w.remove("/moved")
        assert w.fsck() == 0
        reaper.detach()

