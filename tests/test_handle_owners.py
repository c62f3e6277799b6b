"""What a host's numbers hold ends with the process that made them (dev/base/handles.h).

The handle table (scratch buffers from wasi_wasm_alloc, a new file from
wasi_wasm_fs_file_new, a pipe's host hold from wasi_wasm_pipe_new) is global: a host drops a
number itself (wasi_wasm_free, _fs_file_drop, _pipe_release). One whose thread died (a
terminated Worker, reaped by its page) never does, and nobody else knew the numbers were its,
so the new file it was writing and its buffers stayed allocated for good. Each handle now
records the process that made it, whose end (detach or reap) releases what it still holds;
any process with the number may use it until then. wasi_wasm_alloc_kept makes a buffer of no
process (a JS lazy mount's record, which outlives the thread that made it).

A reap of a thread group (wasi_wasm_reap_group, the JS reapProcess) ends every process of a
dead thread at once: a JS Worker's internal host process, whose number its page never
learns, may hold the lock, stopped in a filesystem call."""

from __future__ import annotations

import threading

import pytest
import wasmtime

import wasm_build
from test_stopped_writes import append, commit, helper_process, in_a_thread, new_file
from wasi_wasm import get_wasi, start_wasi
from wasi_wasm._abi import E_BADF, E_INVAL
from wasi_wasm._core_memory import U32_MASK
from wasi_wasm._process import CoreProcess

NEW_FILE_BYTES = 200 << 10
BUFFER_BYTES = 100_000


def alloc(process: CoreProcess, size: int, *, kept: bool = False) -> int:
    ptr = process.call("wasi_wasm_alloc_kept" if kept else "wasi_wasm_alloc", size) & U32_MASK
    assert ptr
    return ptr


@pytest.mark.parametrize("end", ["reap", "detach"])
def test_a_process_that_ends_takes_its_handles_and_buffers_with_it(end: str) -> None:
    """A process with a new file half written (200 KiB), a scratch buffer and a pipe it
    holds ends without dropping any (reaped as a terminated Worker, or detached): the
    filesystem's used bytes come back to what they were before it, its numbers name nothing
    and the buffer's block is handed out again. Before, the file and the buffer stayed (the
    buffer's number still freed, from another process, after the reap), and the pipe."""
    with start_wasi() as w:
        other = helper_process(w)
        w.write_file("/kept", b"k" * 5000)
        before = w.used_bytes()
        ending = helper_process(w)
        handle = new_file(ending, b"new")
        assert append(ending, handle, b"\x11" * NEW_FILE_BYTES) == 0
        buffer = alloc(ending, BUFFER_BYTES)
        pipe = ending.call("wasi_wasm_pipe_new")
        assert pipe
        assert w.used_bytes() > before + NEW_FILE_BYTES
        if end == "reap":
            assert other.call("wasi_wasm_reap", ending.call("wasi_wasm_process_id")) == 0
        else:
            ending.detach()
        assert w.used_bytes() == before
        assert w.fsck() == 0
        assert other.call("wasi_wasm_free", buffer) == E_BADF
        assert other.call("wasi_wasm_fs_file_drop", handle) == E_BADF
        assert other.call("wasi_wasm_pipe_release", pipe) == E_BADF
        again = alloc(other, BUFFER_BYTES)
        assert again == buffer  # its block went back to the reserve
        assert other.call("wasi_wasm_free", again) == 0
        assert not w.exists("/new")
        assert w.read_file("/kept") == b"k" * 5000
        other.detach()
        assert w.fsck() == 0


def test_another_process_uses_a_number_while_its_maker_lives() -> None:
    """The rule the hosts' numbers keep: any process with the number may use it (append,
    commit, pass a buffer, free it) while the process that made it lives; after that the
    number is EBADF for everyone, and what it held is gone."""
    with start_wasi() as w:
        w.write_file("/warm", b"")  # the root's entry table, made by its first name, stays
        w.remove("/warm")
        user = helper_process(w)
        before = w.used_bytes()
        maker = helper_process(w)
        handle = new_file(maker, b"shared")
        assert append(user, handle, b"by user") == 0
        assert commit(user, handle, b"shared") == 0
        assert w.read_file("/shared") == b"by user"
        buffer = alloc(maker, 16)
        assert user.call("wasi_wasm_free", buffer) == 0
        handle = new_file(maker, b"late")
        assert append(user, handle, b"x" * 5000) == 0
        maker.detach()
        assert append(user, handle, b"more") == E_BADF
        assert commit(user, handle, b"late") == E_BADF
        assert not w.exists("/late")
        w.remove("/shared")
        assert w.used_bytes() == before
        user.detach()
        assert w.fsck() == 0


def test_a_kept_buffer_outlives_the_process_that_made_it() -> None:
    """wasi_wasm_alloc_kept: a buffer no process's end frees; another process passes it to
    a call, and frees it, after its maker is gone."""
    with start_wasi() as w:
        w.write_file("/here", b"x")
        maker = helper_process(w)
        user = helper_process(w)
        kept = alloc(maker, 80, kept=True)
        maker.detach()
        user.memory.write(kept, b"here")
        assert user.call("wasi_wasm_fs_stat", 3, kept, 4, 1, kept + 16) == 0
        assert user.call("wasi_wasm_free", kept) == 0
        assert user.call("wasi_wasm_free", kept) == E_BADF
        user.detach()
        assert w.fsck() == 0


def join_group(process: CoreProcess, group: int) -> None:
    assert process.call("wasi_wasm_thread_group", group) == group


def test_a_group_reap_ends_every_process_of_a_dead_thread() -> None:
    """A dead thread's processes (one group): one of them holds the lock exclusive (frozen,
    as a JS Worker's host process stopped in a write holds it), the page knows only
    another's number. reap_group of that number releases the lock and frees them all; the
    filesystem goes on, fsck 0, and the used bytes are what they were before the thread."""

    def body() -> None:
        with start_wasi() as w:
            reaper = helper_process(w)
            w.write_file("/warm", b"")  # the root's entry table, made by its first name, stays
            w.remove("/warm")
            before = w.used_bytes()
            known = helper_process(w)
            hidden = helper_process(w)
            join_group(hidden, known.thread_group)
            third = helper_process(w)
            join_group(third, known.thread_group)
            handle = new_file(hidden, b"unfinished")
            assert append(hidden, handle, b"u" * NEW_FILE_BYTES) == 0
            assert hidden.call("wasi_wasm_freeze") == 0  # it holds the lock exclusive
            ids = [p.call("wasi_wasm_process_id") for p in (known, hidden, third)]
            assert reaper.call("wasi_wasm_reap_group", ids[0]) == 1  # one held a lock
            for id_ in ids:
                assert reaper.call("wasi_wasm_reap", id_) == -E_INVAL  # all gone
            assert w.fsck() == 0
            w.write_file("/after", b"ok")
            w.remove("/after")
            assert w.used_bytes() == before
            reaper.detach()
            assert w.fsck() == 0

    in_a_thread(body)


def test_a_group_reap_leaves_other_groups_and_refuses_its_own() -> None:
    """Only the group of the id: another thread's process (another group) lives on. A
    process of the caller's own group is refused (-EINVAL) and nothing is claimed."""
    with start_wasi() as w:
        reaper = helper_process(w)
        sibling = helper_process(w)
        join_group(sibling, reaper.thread_group)
        dead = helper_process(w)
        alive = helper_process(w)
        sibling_id = sibling.call("wasi_wasm_process_id")
        assert reaper.call("wasi_wasm_reap_group", sibling_id) == -E_INVAL
        assert sibling.call("wasi_wasm_process_id") == sibling_id  # still itself
        assert reaper.call("wasi_wasm_reap_group", dead.call("wasi_wasm_process_id")) == 0
        alive_id = alive.call("wasi_wasm_process_id")
        assert reaper.call("wasi_wasm_reap", alive_id) == 0  # it was not taken with dead
        assert w.fsck() == 0
        sibling.detach()
        reaper.detach()
        assert w.fsck() == 0


def test_a_plain_reap_of_a_thread_s_known_process_waits_for_the_other() -> None:
    """Why the group reap exists: the reap of the one number a page knows frees that process
    under the lock, which the thread's other process still holds: the reap waits (here: 2 s
    without an answer, in a thread of its own) until a group reap, from elsewhere, ends the
    other one too."""

    def body() -> None:
        with start_wasi() as w:
            reaper = helper_process(w)
            rescuer = helper_process(w)
            known = helper_process(w)
            hidden = helper_process(w)
            join_group(hidden, known.thread_group)
            assert hidden.call("wasi_wasm_freeze") == 0
            known_id = known.call("wasi_wasm_process_id")
            got: list[int] = []

            def reap() -> None:
                got.append(reaper.call("wasi_wasm_reap", known_id))

            waiter = threading.Thread(target=reap, daemon=True)
            waiter.start()
            waiter.join(2.0)
            assert waiter.is_alive()
            assert rescuer.call("wasi_wasm_reap_group", hidden.call("wasi_wasm_process_id")) == 1
            waiter.join(30.0)
            assert got == [0]
            assert w.fsck() == 0
            reaper.detach()
            rescuer.detach()

    in_a_thread(body)


def test_a_reap_of_a_stopped_appender_takes_its_own_new_file() -> None:
    """A process stopped in an append to the new file it made (a core whose append traps
    after its first piece), holding the lock, and reaped: the lock is free again, and the
    new file goes with the process (it was 1000 bytes, and 64 KiB more in the stopped call's
    first piece): the used bytes are what they were before the process."""
    core = wasm_build.compile_core("stop-11", ("-DSTOP_WINDOW=11",))
    with start_wasi(get_wasi(core)) as w:
        reaper = helper_process(w)
        before = w.used_bytes()
        stopped = helper_process(w)
        handle = new_file(stopped, b"big")
        assert append(stopped, handle, b"\x22" * 1000) == 0
        with pytest.raises(wasmtime.Trap):
            append(stopped, handle, b"\xab" * NEW_FILE_BYTES)
        assert reaper.call("wasi_wasm_reap", stopped.call("wasi_wasm_process_id")) == 1
        assert reaper.call("wasi_wasm_fs_file_drop", handle) == E_BADF
        assert w.used_bytes() == before
        assert w.fsck() == 0
        assert not w.exists("/big")
        reaper.detach()
        assert w.fsck() == 0
