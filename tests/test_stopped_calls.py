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
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

import wasm_build
from test_reap import core_process
from test_stopped_writes import (
    ALL_RIGHTS,
    CHUNK,
    StoppedError,
    helper_process,
    open_file,
    stop_copies_after,
)
from wasi_wasm import get_wasi, start_wasi
from wasi_wasm._process import CoreProcess

O_TRUNC = 8
EBADF = 8
ENOTEMPTY = 55


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


def stop_and_reap(reaper: CoreProcess, dead: CoreProcess, stop: Callable[[], object]) -> None:
    """dead's call stop() traps in the knob's window, holding a lock, and reaper reaps it."""
    with pytest.raises(wasmtime.Trap):
        stop()
    assert reap(reaper, dead) == 1


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


@pytest.mark.parametrize(("window", "size"), [(3, 1000), (2, 4 * CHUNK)], ids=["chunk0", "chunk1"])
def test_a_truncating_open_stopped_after_freeing_a_chunk_leaves_no_slot_to_it(
    window: int, size: int
) -> None:
    """O_TRUNC under the lock shared gave a chunk back (chunk 0 of a 1000-byte file, a 1
    KiB block; chunk 1 of a 256 KiB one) and stopped before clearing its slot: the file,
    its size not yet moved, then read the bytes of a file made next that got the block."""
    with start_wasi(get_wasi(stop_core(window))) as w:
        w.write_file("/victim", b"v" * size)
        reaper = helper_process(w)
        dead = helper_process(w)
        stop_and_reap(reaper, dead, lambda: open_truncating(dead, b"victim"))
        assert w.fsck() == 0
        others = [bytes([ord("a") + i]) * size for i in range(4)]
        for i, data in enumerate(others):
            w.write_file(f"/other{i}", data)
        assert set(w.read_file("/victim")) <= {0, ord("v")}
        w.write_file("/victim", b"w" * size)
        assert [w.read_file(f"/other{i}") for i in range(4)] == others
        assert w.fsck() == 0
        reaper.detach()


def test_a_truncation_stopped_after_freeing_the_top_array_leaves_no_pointer_to_it() -> None:
    """ftruncate of a file with a byte at 1 TiB (its only fd: under the lock shared) gave
    back its 64 KiB top array and stopped before the file let go of it: the next chunk
    handed out was that array, and its bytes became the file's leaf pointers."""
    with start_wasi(get_wasi(stop_core(4))) as w:
        reaper = helper_process(w)
        dead = helper_process(w)
        fd = open_file(dead, b"sparse")
        assert pwrite(dead, fd, b"X", 1 << 40) == 1
        stop_and_reap(reaper, dead, lambda: dead.call("fd_filestat_set_size", fd, 0))
        assert w.fsck() == 0
        # A chunk of pointers to the reaper's scratch buffer, which holds a leaf's worth of
        # pointers to another buffer full of 0xEE.
        with reaper.scratch(2 * CHUNK) as bufs:
            reaper.memory.write(bufs + CHUNK, b"\xee" * CHUNK)
            reaper.memory.write(bufs, struct.pack("<I", bufs + CHUNK) * 1024)
            w.write_file("/other", struct.pack("<I", bufs) * (CHUNK // 4))
            fd = open_file(reaper, b"sparse")
            got = pread(reaper, fd, 1, 1 << 40)
        assert got in (b"", b"\0")
        assert reaper.call("fd_close", fd) == 0
        assert w.fsck() == 0
        reaper.detach()


def test_an_exclusive_write_stopped_in_a_hole_leaves_no_freed_bytes_inside_the_size() -> None:
    """A 128 KiB pwrite into a hole inside the size of a file with a chunk 0 (leaf 0 must
    grow: the lock exclusive) placed chunks 1 and 2 unzeroed and stopped after copying
    chunk 1: chunk 2, inside the size, held another file's freed bytes."""
    with start_wasi() as w:
        w.write_file("/junk", b"\xcd" * (1 << 20))
        w.remove("/junk")
        reaper = helper_process(w)
        dead = core_process(w.init_obj())
        dead.bind(dead.memory.memory, bridge=False)
        dead.preopen("/", "/")
        fd = open_file(dead, b"holes")
        assert dead.call("fd_filestat_set_size", fd, 4 * CHUNK) == 0
        data = dead.call("wasi_wasm_alloc", 2 * CHUNK + 16)
        dead.memory.write(data, b"\xab" * (2 * CHUNK))
        iovec = data + 2 * CHUNK
        dead.memory.write(iovec, struct.pack("<II", data, 1))
        assert dead.call("fd_pwrite", fd, iovec, 1, 0, iovec + 8) == 0  # chunk 0
        dead.memory.write(iovec, struct.pack("<II", data, 2 * CHUNK))
        stop_copies_after(dead, 1)
        with pytest.raises(Exception) as stopped:  # wasmtime wraps what the hook raised
            dead.call("fd_pwrite", fd, iovec, 1, CHUNK, iovec + 8)
        assert "StoppedError" in repr(stopped.value) or isinstance(stopped.value, StoppedError)
        assert reap(reaper, dead) == 1
        assert w.fsck() == 0
        content = w.read_file("/holes")
        assert len(content) == 4 * CHUNK
        assert b"\xcd" not in content
        reaper.detach()
        assert w.fsck() == 0



def test_an_unlink_stopped_after_its_reclaim_list_grew_leaves_no_freed_array() -> None:
    """The 65th shared unlink in a row outgrew its reclaim list's array of 64 dentries:
    reclaim_reserve gave the old array back and stopped at the allocator's unlock, before
    the list took the new one. The reap then freed what the freed array held: the
    allocator's free-list link in its first word, as if it were a dentry."""
    with start_wasi(get_wasi(stop_core(5))) as w:
        for i in range(70):
            w.write_file(f"/f{i}", b"x")
        w.write_file("/junk", bytes(range(256)) * 4)
        w.remove("/junk")
        reaper = helper_process(w)
        dead = helper_process(w)
        for i in range(64):
            assert call_with_name(dead, "path_unlink_file", f"f{i}".encode()) == 0
        stop_and_reap(reaper, dead, lambda: call_with_name(dead, "path_unlink_file", b"f64"))
        assert w.fsck() == 0
        files = {f"/g{i}": bytes([i]) * (100 + 300 * i) for i in range(40)}
        for name, data in files.items():
            w.write_file(name, data)
        assert {name: w.read_file(name) for name in files} == files
        assert w.fsck() == 0
        reaper.detach()


def test_a_shared_close_stopped_after_its_count_dropped_leaves_no_fd() -> None:
    """A close under the lock shared drops the file's open count; stopped right after (no
    stop point sits there in today's core: the knob puts one there), the fd must already be
    gone, or the program's retry of the close drops the count a second time: one too few
    while another process's fd still holds the file."""
    with start_wasi(get_wasi(stop_core(6))) as w:
        w.write_file("/f", b"f" * 100)
        stopped = helper_process(w)
        other = helper_process(w)
        first, _second = open_file(stopped, b"f"), open_file(stopped, b"f")
        open_file(other, b"f")
        with pytest.raises(wasmtime.Trap):
            stopped.call("fd_close", first)
        assert stopped.call("wasi_wasm_recover") == 1
        try:
            retried: object = stopped.call("fd_close", first)
        except wasmtime.Trap:  # the knob again: the fd was still there, its count dropped twice
            stopped.call("wasi_wasm_recover")
            retried = "a second drop of the count"
        assert retried == EBADF
        assert w.fsck() == 0
        stopped.detach()
        other.detach()
        assert w.fsck() == 0


def test_a_create_stopped_after_its_name_is_in_leaves_the_directory_not_empty() -> None:
    """A shared create put its name in (index cell, slot count) and stopped before the
    directory's live count took it (no stop point sits there in today's core: the knob puts
    one there): one too few, and an rmdir removed the directory with the file still in it."""
    with start_wasi(get_wasi(stop_core(7))) as w:
        w.mkdir("/d")
        w.write_file("/d/y", b"")  # a slot array with room: a new directory's first name
        w.remove("/d/y")  # goes in exclusive
        reaper = helper_process(w)
        stopped = helper_process(w)
        stop_and_reap(reaper, stopped, lambda: open_file(stopped, b"d/x"))
        assert w.fsck() == 0
        assert w.listdir("/d") == ["x"]
        assert call_with_name(reaper, "path_remove_directory", b"d") == ENOTEMPTY
        assert w.fsck() == 0


def open_directory(process: CoreProcess, name: bytes) -> int:
    with process.scratch(len(name) + 4) as path:
        process.memory.write(path, name)
        out = path + len(name)
        # path_open(fd 3, no follow, name, O_DIRECTORY, no rights (none may write), 0, out)
        assert process.call("path_open", 3, 0, path, len(name), 2, 0, 0, 0, out) == 0
        return int.from_bytes(process.memory.read(out, 4), "little")


def test_an_rmdir_stopped_after_its_name_went_leaves_no_parent_named() -> None:
    """A shared rmdir took the directory's name out and stopped before it let go of its
    parent (no stop point sits there in today's core: the knob puts one there): an fd held
    on the removed directory still reached the parent, which could then be removed and
    freed in its turn. fsck counts a removed directory that names a parent."""
    with start_wasi(get_wasi(stop_core(8))) as w:
        w.mkdir("/p")
        w.mkdir("/p/c")
        holder = helper_process(w)
        stopped = helper_process(w)
        open_directory(holder, b"p/c")
        stop_and_reap(
            holder, stopped, lambda: call_with_name(stopped, "path_remove_directory", b"p/c")
        )
        assert w.listdir("/p") == []
        # p's subdirectory count is one too many now (what fsck reports), and goes with p
        # (removed by the host: every shared rmdir traps in this core).
        w.rmdir("/p")
        assert w.fsck() == 0


def test_an_open_stopped_once_its_fd_names_the_file_has_counted_it() -> None:
    """An exclusive open (a writer joining a file another fd holds) filled its fd and then
    counted it (no stop point sits there in today's core: the knob puts one there): the
    recovered process's fd was one its count missed, and its close dropped a count that
    another process's fd still needed."""
    with start_wasi(get_wasi(stop_core(9))) as w:
        w.write_file("/f", b"f" * 100)
        stopped = helper_process(w)
        other = helper_process(w)
        kept = open_file(other, b"f")  # so the stopped writer's open is exclusive
        with pytest.raises(wasmtime.Trap):
            open_file(stopped, b"f")
        assert stopped.call("wasi_wasm_recover") == 1
        assert w.fsck() == 0
        stopped.detach()
        assert w.fsck() == 0
        assert pread(other, kept, 100, 0) == b"f" * 100


def test_a_renumber_stopped_while_moving_an_fd_leaves_no_fd_its_count_misses() -> None:
    """fd_renumber wrote the new number's entry before clearing the old one (no stop point
    sits there in today's core: the knob puts one there): stopped in between, two fds named
    the unlinked file on one count, and the recovered process's exit closed both, freeing
    the file under another process's fd, which then read whatever took its blocks."""
    with start_wasi(get_wasi(stop_core(10))) as w:
        w.write_file("/f", b"f" * 100)
        w.write_file("/g", b"g" * 100)
        stopped = helper_process(w)
        other = helper_process(w)
        kept = open_file(other, b"f")
        moving = open_file(stopped, b"f")
        replaced = open_file(stopped, b"g")
        w.remove("/f")
        with pytest.raises(wasmtime.Trap):
            stopped.call("fd_renumber", moving, replaced)
        assert stopped.call("wasi_wasm_recover") == 1
        stopped.detach()
        for n in range(8):
            w.write_file(f"/later{n}", bytes([n]) * 100)
        assert pread(other, kept, 100, 0) == b"f" * 100
        # What the stop leaves: one count that no fd holds (a leak, which fsck reports).
        assert w.fsck() == 1
