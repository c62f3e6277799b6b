"""Thread groups (wasi_wasm_thread_group): processes a host runs on one thread share a group,
and while every process of the filesystem is in one group, directory changes take the lock
exclusive at once instead of the shared path (its mutexes and second lookups), since no
other thread can run beside them.

Which path a change took shows with a core built with -DSTOP_WINDOW=7 (dev/base/stop_test.h):
a shared create traps once its name is in, an exclusive one never does. The differential
tests run every program both ways (tests/test_wasi_differential.py)."""

from __future__ import annotations

import pytest
import wasmtime

from test_reap import core_process
from test_stopped_calls import call_with_name, stop_core
from test_stopped_writes import helper_process
from wasi_wasm import get_wasi, start_wasi
from wasi_wasm._process import CoreProcess

STOP_NAME_PUBLISHED = 7


def mkdir_traps(process: CoreProcess, name: bytes) -> bool:
    """Whether a mkdir took the shared path (and trapped there); the process recovers."""
    try:
        assert call_with_name(process, "path_create_directory", name) == 0
    except wasmtime.Trap:
        assert process.call("wasi_wasm_recover") == 1
        return True
    return False


def test_directory_changes_are_exclusive_while_every_process_is_in_one_group() -> None:
    with start_wasi(get_wasi(stop_core(STOP_NAME_PUBLISHED))) as w:
        group = w._process.thread_group
        w.mkdir("/by-host")  # the filesystem API's process is in the Wasi's group
        process = helper_process(w)  # a Store of its own: another thread, a group of its own
        assert process.thread_group not in (0, group)
        assert mkdir_traps(process, b"shared")
        assert process.call("wasi_wasm_thread_group", group) == group
        assert not mkdir_traps(process, b"alone")
        stranger = helper_process(w)
        assert mkdir_traps(process, b"beside-a-stranger")
        stranger.detach()
        assert not mkdir_traps(process, b"alone-again")
        process.detach()
        assert sorted(w.listdir("/")) == [
            "alone", "alone-again", "beside-a-stranger", "by-host", "shared"
        ]
        assert w.fsck() == 0


def test_a_run_joins_the_group_of_the_wasi_it_runs_for() -> None:
    with start_wasi() as w:
        w.mkdir("/d")
        spawned = w.spawn_run(["program"], w._options)
        with spawned:
            assert spawned._process.thread_group == w._process.thread_group
        other = start_wasi(w.init_obj())
        with other:
            assert other._process.thread_group not in (0, w._process.thread_group)


def test_a_group_is_zero_before_attach_and_a_join_is_only_a_promise() -> None:
    """A process that joins a group nobody has still works (the group only picks the path)."""
    with start_wasi() as w:
        process = core_process(w.init_obj())
        process.bind(process.memory.memory)
        process.preopen("/", "/")
        assert process.call("wasi_wasm_thread_group", 0xFFFF_FFF0) & 0xFFFF_FFFF == 0xFFFF_FFF0
        assert call_with_name(process, "path_create_directory", b"x") == 0
        assert call_with_name(process, "path_remove_directory", b"x") == 0
        process.detach()
        assert process.call("wasi_wasm_thread_group", 0) == 0
        assert w.fsck() == 0


@pytest.mark.parametrize("joined", [False, True], ids=["own-groups", "one-group"])
def test_processes_of_both_kinds_change_one_directory_in_turn(joined: bool) -> None:
    """Creates, renames and removals from two processes, each path beside the other's."""
    with start_wasi() as w:
        w.mkdir("/d")
        a, b = helper_process(w), helper_process(w)
        if joined:
            b.call("wasi_wasm_thread_group", a.thread_group)
        for i in range(200):
            first, second = (a, b) if i % 2 else (b, a)
            name = f"d/n{i}".encode()
            assert call_with_name(first, "path_create_directory", name) == 0
            with second.scratch(64) as buf:
                moved = f"d/m{i}".encode()
                second.memory.write(buf, name + moved)
                assert second.call("path_rename", 3, buf, len(name), 3, buf + len(name),
                                   len(moved)) == 0
            if i % 3:
                assert call_with_name(first, "path_remove_directory", f"d/m{i}".encode()) == 0
        assert len(w.listdir("/d")) == 200 - len([i for i in range(200) if i % 3])
        a.detach()
        b.detach()
        assert w.fsck() == 0
