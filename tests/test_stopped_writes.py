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
a core built with -DRENAME_TRAP_NAME, whose renames to that name trap there.

A host's wasi_wasm_fs_file_append fills a new file (held by a handle, not an fd) the same
way, under the lock exclusive: stopped between its pieces, it left chunks past the size
with another file's freed bytes. Nothing frees them while the handle lives (it is its
maker's, and the appender may be another process), fsck does not look inside a file no
directory names, and a commit, by the recovered host or by anyone holding the number, then
showed them to every reader of an extension (fsck 5). The process names the handle while
its append runs (struct process, appending), and its reap or recover cuts that file back
too. The stop is made by a core built with -DSTOP_WINDOW=11, which traps at the copy loop's
header after the first piece. Reaped, an appender that made the handle itself takes the new
file with it (base/handles.h: a handle ends with the process that made it)."""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Iterator
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


@pytest.fixture(scope="module")
def append_stop_core() -> Path:
    """The core whose file_append traps after its first piece (dev/base/stop_test.h)."""
    return wasm_build.compile_core("stop-11", ("-DSTOP_WINDOW=11",))


def new_file(process: CoreProcess, name: bytes) -> int:
    """wasi_wasm_fs_file_new(fd 3, name): the new file's handle."""
    with process.scratch(len(name) + 4) as path:
        process.memory.write(path, name)
        assert process.call("wasi_wasm_fs_file_new", 3, path, len(name), path + len(name)) == 0
        return process.memory.read_u32(path + len(name))


def append(process: CoreProcess, handle: int, data: bytes) -> int:
    """wasi_wasm_fs_file_append from a buffer that a trap does not try to free (a call after
    the trap, with the lock still held, would wait for ever)."""
    buf = process.call("wasi_wasm_alloc", len(data))
    process.memory.write(buf, data)
    code = process.call("wasi_wasm_fs_file_append", handle, buf, len(data))
    assert process.call("wasi_wasm_free", buf) == 0
    return code


def commit(process: CoreProcess, handle: int, name: bytes) -> int:
    with process.scratch(len(name)) as path:
        process.memory.write(path, name)
        return process.call("wasi_wasm_fs_file_commit", handle, 3, path, len(name), 0, 0, 0)


KEPT = b"\x22" * 1000  # appended before the stop: inside chunk 0, which the stopped append fills


@pytest.mark.parametrize("then", ["drop", "commit", "append-commit"])
@pytest.mark.parametrize("end", ["reap", "recover"])
@pytest.mark.parametrize("length", [WRITTEN, CHUNK - 536], ids=["whole-chunks", "two-pieces"])
def test_a_stopped_append_leaves_nothing_past_the_size(
    append_stop_core: Path, length: int, end: str, then: str
) -> None:
    """A host process appends 1000 bytes to a new file, then ``length``, stopped after the
    piece that fills chunk 0: 256 KiB places chunks 1-3 unzeroed (freed 0xCD bytes);
    65,000 bytes place a zeroed chunk 1 for their second piece (fsck counts it, and chunk
    0's tail past the size). The size is 1000. The handle is the reaper's (any process
    with a number may append while its maker lives), so a reaped appender leaves it behind
    and another process goes on with it; a recovered one goes on itself. Either way the
    file is what was appended before the stop:
    dropped, every block comes back; committed, with or without another append, fsck is
    clean, the content is what the appends that returned wrote, and an extension reads
    zeros past it."""
    with start_wasi(get_wasi(append_stop_core)) as w:
        reaper = helper_process(w)
        before = w.used_bytes()
        stopped = helper_process(w)  # before the junk, or its stack takes the junk's pages
        process_bytes = w.used_bytes() - before
        fd = open_file(reaper, b"junk")  # by fd_write: a host append of it would stop
        with reaper.scratch(WRITTEN + 16) as buf:
            reaper.memory.write(buf, b"\xcd" * WRITTEN)
            reaper.memory.write(buf + WRITTEN, struct.pack("<II", buf, WRITTEN))
            assert reaper.call("fd_write", fd, buf + WRITTEN, 1, buf + WRITTEN + 8) == 0
        assert reaper.call("fd_close", fd) == 0
        w.remove("/junk")
        before = w.used_bytes() - process_bytes  # what is left once the stopped process ends
        handle = new_file(reaper, b"big")  # the reaper's: it outlives the stopped appender
        assert append(stopped, handle, KEPT) == 0
        with pytest.raises(wasmtime.Trap):
            append(stopped, handle, b"\xab" * length)
        if end == "reap":
            assert reaper.call("wasi_wasm_reap", stopped.call("wasi_wasm_process_id")) == 1
            actor = reaper
        else:
            assert stopped.call("wasi_wasm_recover") == 1
            actor = stopped
        assert w.fsck() == 0
        if then == "drop":
            assert actor.call("wasi_wasm_fs_file_drop", handle) == 0
        else:
            more = b"\x11" * 100 if then == "append-commit" else b""
            if more:
                assert append(actor, handle, more) == 0
            assert commit(actor, handle, b"big") == 0
            assert w.fsck() == 0
            content = KEPT + more
            assert w.read_file("/big") == content
            extended = extended_bytes(actor)
            assert extended[: len(content)] == content
            assert extended.count(0, len(content)) == WRITTEN - len(content)  # zeros past it
            w.remove("/big")
        assert w.fsck() == 0
        if end == "recover":
            stopped.detach()
        assert w.used_bytes() == before
        reaper.detach()
        assert w.fsck() == 0


def in_a_thread(body: Callable[[], None], timeout: float = 60.0) -> None:
    """Runs body in a thread of its own and fails if it has not returned within timeout: a
    call waiting for a lock nobody will release hangs that thread, not the suite. The body
    makes its own filesystem, so nothing the test's thread does afterwards (closing it)
    waits for that lock either."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            body()
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"still waiting after {timeout} s: a lock left held"
    if errors:
        raise errors[0]


def test_a_trap_in_a_host_write_recovers_its_process(append_stop_core: Path) -> None:
    """The filesystem API's write_file of 256 KiB traps in its append (the knob core stops
    after its first piece, holding the lock exclusive). The host recovers the process
    before anything else runs on it (CoreProcess.call), so the trap reaches the caller as a
    wasmtime.Trap, and the calls after it (write_file's own drop of the new file, the next
    read, fsck) run: nothing is left of the new file, the other files are as they were.
    Before, write_file never returned: its buffer's free waited for the lock its own
    stopped append held."""

    def body() -> None:
        with start_wasi(get_wasi(append_stop_core)) as w:
            w.write_file("/small", b"s" * 100)
            w.mkdir("/dir")
            w.write_file("/dir/big", b"\x11" * 1000)
            before = w.used_bytes()
            with pytest.raises(wasmtime.Trap, match="unreachable"):
                w.write_file("/dir/big", b"\xab" * WRITTEN)
            assert w.read_file("/small") == b"s" * 100
            assert w.fsck() == 0
            assert w.read_file("/dir/big") == b"\x11" * 1000  # the old content, whole
            assert w.used_bytes() == before
            w.write_file("/dir/after", b"a" * 1000)  # the API goes on (below the knob's size)
            assert w.read_file("/dir/after") == b"a" * 1000
            assert sorted(w.listdir("/dir")) == ["after", "big"]
            assert w.fsck() == 0

    in_a_thread(body)
