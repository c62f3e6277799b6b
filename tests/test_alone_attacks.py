"""Attacks on the exclusive path that a process alone in its thread group takes at once
(wasi_path.c: shared_first, vfs_alone), and on directory entry numbers renumbered near
DIR_SEQ_LIMIT against dir_slot_from's guess from the end (dev/vfs/dir.c).

1. Stops. A process alone in the filesystem's one thread group changes directories under
   the lock exclusive. Stopped in the middle of such a call (a terminated Worker stops at
   any function entry or loop header; a trap; a host hook that raises) and then reaped or
   recovered, the call must have happened whole or not at all as far as anyone can see:
   fsck clean, the name renamed or not (never both), every listing and lookup in
   agreement, other files untouched, the lock free. The stops: the victim's clock hook
   raising at the call's first clock read (a call into the host, where a terminate() can
   land too), its copy hook raising while the call reads its second path, and cores built
   with -DSTOP_WINDOW=n (dev/base/stop_test.h) that trap inside a directory's reshape.
   Found here: every exclusive rename stopped at its clock read left the node under both
   names (tree_rename linked the new name, read the clock, then removed the old one); a
   directory named twice kept a parent pointer to one name's directory only, and once
   that name and that directory went, a walk of the other name's ".." read freed memory
   (another directory's, made later). And reshape freed a grown directory's old slot array
   before the directory let go of it (stopped at the next mem_free's entry, a lookup read
   another block's bytes as slots and wasmtime aborted on the fault), filled the new index
   after publishing it, and squeezed a same-size directory in place (stopped halfway:
   names missing, names listed twice; fsck 2 and 15).
2. Numbers. With a core whose directories start 64 numbers below DIR_SEQ_LIMIT, names come
   and go in one directory across its renumbering (alone: exclusive; beside a process of
   another group: shared first), and every live name must be found by lookup, an unlink
   must take exactly its own name, and a listing (in small buffers, resumed at its
   cookies, also at cookies of an earlier listing) must give every live name once. A
   renumbering stopped halfway (a loop header, knob 15) must leave the numbers growing
   along the slots for the next insert to finish."""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

import pytest
import wasmtime

import wasm_build
from test_dir_numbers import NEAR_THE_LIMIT
from test_reap import core_process
from test_stopped_calls import call_with_name, pread, stop_core
from test_stopped_writes import helper_process
from test_thread_groups_attack import (
    O_DIRECTORY,
    RIGHT_FD_READDIR,
    create_and_write,
    open_fd,
    read_dir,
    two_names,
)
from wasi_wasm import Wasi, get_wasi, start_wasi
from wasi_wasm._abi import HOOK_CLOCK_TIME_GET
from wasi_wasm._bridge import COPY_TYPE
from wasi_wasm._hooks import Hook
from wasi_wasm._process import CoreProcess

HOLDS_EXCLUSIVE = 2  # dev/base/lock.h: a holder's state word
ENOENT = 44
FILESTAT_SIZE = 64
CLOCK_TYPE = wasmtime.FuncType(
    [wasmtime.ValType.i32(), wasmtime.ValType.i64(), wasmtime.ValType.i32()],
    [wasmtime.ValType.i32()],
)


class StoppedError(Exception):
    """What a hook raises: the call stops there, as at a terminate()."""


# -- processes alone in one group -----------------------------------------------------------------
def joined(w: Wasi, process: CoreProcess) -> CoreProcess:
    """process, moved into the Wasi's thread group (a promise that it never runs beside the
    Wasi's own processes, as when one thread runs them all)."""
    group = w._process.thread_group
    assert process.call("wasi_wasm_thread_group", group) & 0xFFFF_FFFF == group
    return process


@dataclass
class Alone:
    """A victim to stop and a reaper, both in the Wasi's thread group."""

    victim: CoreProcess
    reaper: CoreProcess
    victim_id: int

    def end_stopped(self, how: str) -> None:
        """The stopped victim reaped (a terminated Worker: never called again) or
        recovered (a trap its own host caught: it goes on, then detaches); either way
        it held the lock."""
        if how == "reap":
            assert self.reaper.call("wasi_wasm_reap", self.victim_id) == 1
            return
        assert self.victim.call("wasi_wasm_recover") == 1
        assert call_with_name(self.victim, "path_create_directory", b"recovered") == 0
        assert call_with_name(self.victim, "path_remove_directory", b"recovered") == 0
        self.victim.detach()


@contextmanager
def alone(w: Wasi, victim: CoreProcess | None = None) -> Iterator[Alone]:
    """A reaper and a victim (a helper process unless given) moved into the Wasi's group,
    after the Wasi's own processes (its filesystem API's too) were made: every registered
    process is in one group, and each directory change takes the lock exclusive at once.
    The reaper comes first: a new process takes the lock, which a stopped victim holds."""
    host, _root = w._state.host_process()
    reaper = joined(w, helper_process(w))
    victim = joined(w, victim or helper_process(w))
    groups = {
        w._process.thread_group,
        host.call("wasi_wasm_thread_group", 0),
        reaper.call("wasi_wasm_thread_group", 0),
        victim.call("wasi_wasm_thread_group", 0),
    }
    assert len(groups) == 1, groups
    pair = Alone(victim, reaper, victim.call("wasi_wasm_process_id"))
    try:
        yield pair
    finally:  # a victim still there (the test failed before its stop) must not hold the lock
        reaper.call("wasi_wasm_reap", pair.victim_id)
        reaper.detach()


# -- what a consistent directory looks like --------------------------------------------------------
def stat_errno(process: CoreProcess, name: bytes) -> int:
    """path_filestat_get(fd 3, name): a lookup through the directory's index."""
    with process.scratch(len(name) + FILESTAT_SIZE) as buf:
        process.memory.write(buf, name)
        return int(process.call("path_filestat_get", 3, 0, buf, len(name), buf + len(name)))


def assert_directory(w: Wasi, process: CoreProcess, directory: str, want: set[str]) -> None:
    """directory holds exactly want: each name listed once by fd_readdir (in small buffers,
    resumed at its cookies) and by the host's listing, and found by a lookup."""
    err, fd = open_fd(process, directory.encode(), O_DIRECTORY, RIGHT_FD_READDIR)
    assert err == 0
    try:
        entries = read_dir(process, fd, 0)
    finally:
        assert process.call("fd_close", fd) == 0
    cookies = [cookie for cookie, _name in entries]
    assert cookies == sorted(set(cookies)), cookies
    names = [name for _cookie, name in entries]
    assert len(names) == len(set(names)), sorted(names)
    assert set(names) == want
    assert sorted(w.listdir("/" + directory)) == sorted(want)
    for name in want:
        assert stat_errno(process, f"{directory}/{name}".encode()) == 0, name


def assert_lock_free(w: Wasi, process: CoreProcess) -> None:
    """Another process changes the tree (exclusive, alone) and the host's fsck runs."""
    assert call_with_name(process, "path_create_directory", b"after-stop") == 0
    assert call_with_name(process, "path_remove_directory", b"after-stop") == 0
    assert w.fsck() == 0


KEPT = {"/keep/a": b"a" * 100, "/keep/b": b"b" * 5000}


def keep_files(w: Wasi) -> None:
    """Files nobody changes: a stopped call must leave them as they are."""
    w.mkdir("/keep")
    for path, data in KEPT.items():
        w.write_file(path, data)


def assert_kept(w: Wasi) -> None:
    assert {path: w.read_file(path) for path in KEPT} == KEPT


# -- 1a. hooks that raise inside an exclusive hold -------------------------------------------------
@dataclass
class Armed:
    """A hook of the victim's that raises once armed, and what it saw then."""

    armed: bool = False
    state: int | None = None  # the victim's lock state word when it raised
    raised: int = 0

    def fire(self, memory_read: Callable[[int, int], bytes], busy: int) -> None:
        self.armed = False
        self.state = int.from_bytes(memory_read(busy, 4), "little")
        self.raised += 1
        raise StoppedError


def watch_clock(process: CoreProcess) -> Armed:
    """process's realtime clock hook raises StoppedError once armed. The core reads it for
    file times while no program runs (the file clock word is 0), at most once per
    exclusive hold (vfs_now)."""
    memory = process.memory
    busy = process.call("wasi_wasm_busy_slot")
    armed = Armed()

    def clock(_id: int, _precision: int, out: int) -> int:
        if armed.armed:
            armed.fire(memory.read, busy)
        memory.write(out & 0xFFFF_FFFF, struct.pack("<Q", time.time_ns()))
        return 0

    hook = wasmtime.Func(process.store, CLOCK_TYPE, clock)
    process.set_hook(cast(Hook, HOOK_CLOCK_TIME_GET), hook)
    return armed


def watch_copies(process: CoreProcess, copies: int) -> Armed:
    """process's copy hook (its guest memory is the core memory, bound without the bridge)
    copies ``copies`` times, then raises StoppedError."""
    memory = process.memory
    busy = process.call("wasi_wasm_busy_slot")
    armed = Armed(armed=True)
    left = [copies]

    def copy_in(_caller: wasmtime.Caller, core_dst: int, guest_src: int, length: int) -> None:
        if left[0] == 0 and armed.armed:
            armed.fire(memory.read, busy)
        left[0] -= 1
        moved = memory.read(guest_src & 0xFFFF_FFFF, length & 0xFFFF_FFFF)
        memory.write(core_dst & 0xFFFF_FFFF, moved)

    hook = wasmtime.Func(process.store, COPY_TYPE, copy_in, access_caller=True)
    process.set_hook(Hook.COPY_IN, hook)
    return armed


def copying_victim(w: Wasi) -> CoreProcess:
    """A process whose copy hooks are Python functions (bound without the bridge)."""
    victim = core_process(w.init_obj())
    victim.bind(victim.memory.memory, bridge=False)
    victim.preopen("/", "/")
    return victim


def stopped(call: Callable[[], object], armed: Armed) -> None:
    """call() stops where the armed hook raises, while it holds the lock exclusive: the
    process is alone in its group, so its change took the exclusive path at once."""
    with pytest.raises(Exception) as raised:  # wasmtime wraps what the hook raised
        call()
    assert "StoppedError" in repr(raised.value) or isinstance(raised.value, StoppedError)
    assert armed.raised == 1
    assert armed.state == HOLDS_EXCLUSIVE


Snapshot = dict[str, tuple[str, int, bytes]]


def snapshot(w: Wasi, top: str = "/t") -> Snapshot:
    """Every path under top: its kind, link count and content (a file's bytes, a symlink's
    target, nothing for a directory), through the host's listings and lookups."""
    seen: Snapshot = {}
    stack = [top]
    while stack:
        directory = stack.pop()
        for name in w.listdir(directory):
            path = f"{directory}/{name}"
            info = w.lstat(path)
            if info.is_dir:
                seen[path] = ("dir", info.nlink, b"")
                stack.append(path)
            elif info.is_symlink:
                seen[path] = ("symlink", info.nlink, w.readlink(path).encode())
            else:
                seen[path] = ("file", info.nlink, w.read_file(path))
    return seen


def tree(w: Wasi) -> None:
    """/t/a and /t/b: files, a symlink, empty and full directories."""
    for directory in ("/t", "/t/a", "/t/b", "/t/a/d", "/t/a/full", "/t/a/full/sub", "/t/b/e"):
        w.mkdir(directory)
    w.write_file("/t/a/f", b"f" * 40)
    w.write_file("/t/a/full/z", b"z")
    w.write_file("/t/b/g", b"g" * 70)
    w.symlink("../a/f", "/t/b/s")


def symlink(process: CoreProcess, target: bytes, name: bytes) -> int:
    with process.scratch(len(target) + len(name)) as buf:
        process.memory.write(buf, target + name)
        return int(process.call("path_symlink", buf, len(target), 3, buf + len(target), len(name)))


def rename(old: bytes, new: bytes) -> Callable[[CoreProcess], int]:
    return lambda p: two_names(p, "path_rename", old, new)


# name -> (the call, whether it changes anything: a refusal reads no clock)
OPS: dict[str, tuple[Callable[[CoreProcess], int], bool]] = {
    "mkdir": (lambda p: call_with_name(p, "path_create_directory", b"t/a/new"), True),
    "rmdir": (lambda p: call_with_name(p, "path_remove_directory", b"t/a/d"), True),
    "rmdir-not-empty": (lambda p: call_with_name(p, "path_remove_directory", b"t/a/full"), False),
    "unlink": (lambda p: call_with_name(p, "path_unlink_file", b"t/a/f"), True),
    "unlink-symlink": (lambda p: call_with_name(p, "path_unlink_file", b"t/b/s"), True),
    "link": (lambda p: two_names(p, "path_link", b"t/a/f", b"t/b/f2"), True),
    "symlink": (lambda p: symlink(p, b"../a/f", b"t/b/s2"), True),
    "rename-file": (rename(b"t/a/f", b"t/b/f2"), True),
    "rename-file-here": (rename(b"t/a/f", b"t/a/f2"), True),
    "rename-file-over": (rename(b"t/a/f", b"t/b/g"), True),
    "rename-symlink-over": (rename(b"t/b/s", b"t/a/f"), True),
    "rename-dir": (rename(b"t/a/d", b"t/b/d2"), True),
    "rename-dir-here": (rename(b"t/a/d", b"t/a/d2"), True),
    "rename-full-dir": (rename(b"t/a/full", b"t/b/full"), True),
    "rename-full-dir-over": (rename(b"t/a/full", b"t/b/e"), True),
    "rename-dir-over-full": (rename(b"t/b/e", b"t/a/full"), False),
}


def reference_outcome(op: str) -> tuple[int, Snapshot]:
    """What op does, not stopped, on a fresh /t: its errno and the tree after."""
    with start_wasi() as w:
        tree(w)
        with alone(w) as pair:
            err = OPS[op][0](pair.victim)
            pair.victim.detach()
        return err, snapshot(w)


def assert_whole_or_not_at_all(
    w: Wasi, process: CoreProcess, before: Snapshot, after: Snapshot
) -> None:
    """The tree is as before the stopped call or as after it, and each directory in it
    lists and looks up each of its names once; then it can all go, and come back."""
    now = snapshot(w)
    assert now in (before, after), sorted(set(now.items()) ^ set(before.items()))
    for directory in ["/t", *(path for path, (kind, _n, _c) in now.items() if kind == "dir")]:
        want = {path.rsplit("/", 1)[1] for path in now if path.rsplit("/", 1)[0] == directory}
        assert_directory(w, process, directory[1:], want)
    assert_kept(w)
    assert w.fsck() == 0
    w.rmtree("/t")
    assert w.fsck() == 0
    tree(w)
    assert snapshot(w) == before
    assert w.fsck() == 0


@pytest.mark.parametrize("how", ["reap", "recover"])
@pytest.mark.parametrize("op", list(OPS))
def test_a_call_stopped_at_its_clock_read_is_whole_or_not_at_all(op: str, how: str) -> None:
    """The victim, alone in the filesystem's group, makes one change; its clock hook raises
    at the call's first clock read, inside the exclusive hold. Reaped or recovered, the tree
    is as before or as after (a rename: the node under its old name or its new one), another
    process's fd reads what it read, and the lock is free. Before dir_move, every rename
    here failed (the node under both names; a directory's fsck 2 or 3)."""
    call, changes = OPS[op]
    want_err, after = reference_outcome(op)
    with start_wasi() as w:
        keep_files(w)
        tree(w)
        before = snapshot(w)
        with alone(w) as pair:
            err, held = open_fd(pair.reaper, b"keep/b", 0)
            assert err == 0
            armed = watch_clock(pair.victim)
            armed.armed = True
            if changes:
                stopped(lambda: call(pair.victim), armed)
                pair.end_stopped(how)
            else:  # refused before any change: no clock read, nothing to stop
                assert call(pair.victim) == want_err != 0
                assert armed.raised == 0
                pair.victim.detach()
                assert snapshot(w) == before == after
            assert pread(pair.reaper, held, 5000, 0) == KEPT["/keep/b"]
            assert pair.reaper.call("fd_close", held) == 0
            assert_lock_free(w, pair.reaper)
            assert_whole_or_not_at_all(w, pair.reaper, before, after)


@pytest.mark.parametrize("op", ["rename-file-over", "rename-full-dir-over", "link", "symlink"])
def test_a_two_path_call_stopped_reading_its_second_path_changes_nothing(op: str) -> None:
    """The victim's copy hook raises while the call reads its second path under the
    exclusive hold (a rename's or link's new name; a symlink's name, after its target)."""
    call, _changes = OPS[op]
    with start_wasi() as w:
        keep_files(w)
        tree(w)
        before = snapshot(w)
        with alone(w, copying_victim(w)) as pair:
            armed = watch_copies(pair.victim, 1)
            stopped(lambda: call(pair.victim), armed)
            pair.end_stopped("reap")
            assert_lock_free(w, pair.reaper)
            assert_whole_or_not_at_all(w, pair.reaper, before, before)


def inode_number(process: CoreProcess, name: bytes) -> int | None:
    """The inode number path_filestat_get finds for name, None for ENOENT."""
    with process.scratch(len(name) + FILESTAT_SIZE) as buf:
        process.memory.write(buf, name)
        err = process.call("path_filestat_get", 3, 0, buf, len(name), buf + len(name))
        if err == ENOENT:
            return None
        assert err == 0
        return int.from_bytes(process.memory.read(buf + len(name) + 8, 8), "little")


def test_a_directory_renamed_whole_keeps_its_parent_when_the_target_goes() -> None:
    """The harm of a directory rename left named twice: with /t/a/d also at /t/c/d2, its
    parent pointer naming /t/c, the removal of /t/c/d2 and /t/c left /t/a/d's ".." pointing
    at freed memory, which the next directory made took (a mkdir of "t/a/d/../zz" then
    made /t/x0/zz). Stopped at the clock read, the rename leaves one name, whose ".." is
    the directory holding it, before and after the other directory goes."""
    with start_wasi() as w:
        tree(w)
        w.mkdir("/t/c")
        with alone(w) as pair:
            armed = watch_clock(pair.victim)
            armed.armed = True
            stopped(lambda: rename(b"t/a/d", b"t/c/d2")(pair.victim), armed)
            pair.end_stopped("reap")
            reaper = pair.reaper
            names = {b"t/a": b"t/a/d", b"t/c": b"t/c/d2"}
            for parent, name in names.items():
                if inode_number(reaper, name) is not None:
                    assert inode_number(reaper, name + b"/..") == inode_number(reaper, parent)
            assert call_with_name(reaper, "path_remove_directory", b"t/c/d2") in (0, ENOENT)
            assert call_with_name(reaper, "path_remove_directory", b"t/c") == 0
            for i in range(4):  # they may take what t/c held
                w.mkdir(f"/t/x{i}")
            if inode_number(reaper, b"t/a/d") is not None:
                assert inode_number(reaper, b"t/a/d/..") == inode_number(reaper, b"t/a")
                assert call_with_name(reaper, "path_create_directory", b"t/a/d/../zz") == 0
                assert w.is_dir("/t/a/zz")
            assert [w.listdir(f"/t/x{i}") for i in range(4)] == [[]] * 4
            assert w.fsck() == 0


# -- 1b. stops inside a directory's reshape (knob cores) -------------------------------------------
STOP_RESHAPE_COPYING = 12
STOP_RESHAPE_INDEXING = 13
STOP_RESHAPE_FREED = 14


def make_until_stopped(process: CoreProcess, directory: str, churn: bool) -> set[str]:
    """mkdir directory/k0, k1, ... (churn: each followed by mkdirs and rmdirs of passing
    names, so that removed slots pile up) until a call traps; the names made."""
    made: set[str] = set()
    with pytest.raises(wasmtime.Trap):
        for i in range(2000):
            name = f"k{i}"
            made_name = f"{directory}/{name}".encode()
            assert call_with_name(process, "path_create_directory", made_name) == 0
            made.add(name)
            for j in range(20 if churn else 0):
                passing = f"{directory}/t{i}-{j}".encode()
                assert call_with_name(process, "path_create_directory", passing) == 0
                assert call_with_name(process, "path_remove_directory", passing) == 0
    return made


def reshape_stop_case(window: int, churn: bool) -> None:
    with start_wasi(get_wasi(stop_core(window))) as w:
        keep_files(w)
        w.mkdir("/r")
        with alone(w) as pair:
            reaper = pair.reaper
            made = make_until_stopped(pair.victim, "r", churn)
            pair.end_stopped("reap")
            assert w.fsck() == 0
            assert_directory(w, reaper, "r", made)
            for i in range(2):  # small blocks, which take what was freed (/keep: no reshape)
                w.write_file(f"/keep/n{i}", bytes([0xEE]) * (16 << i))
            assert_directory(w, reaper, "r", made)
            for name in sorted(made)[::2]:  # removals only: no reshape, no knob
                assert call_with_name(reaper, "path_remove_directory", f"r/{name}".encode()) == 0
                made.discard(name)
            assert_directory(w, reaper, "r", made)
            assert_kept(w)
            assert w.fsck() == 0


@pytest.mark.parametrize(
    ("window", "churn"),
    [(STOP_RESHAPE_COPYING, True), (STOP_RESHAPE_INDEXING, False), (STOP_RESHAPE_FREED, False)],
    ids=["copying", "indexing", "freed"],
)
def test_a_mkdir_stopped_inside_a_reshape_leaves_the_directory_whole(
    window: int, churn: bool
) -> None:
    """An alone mkdir (exclusive) made its directory room (dir.c reshape) and stopped: in
    the middle of copying the slots of a squeeze at the same size (a directory where names
    come and go: 256 slots), in the middle of filling the new index, or between giving back
    a grown directory's old slot array and its old index. After the reap every name made
    before is found and listed once, also once new files took what was freed. In a child
    process: slots that are another block's bytes send a lookup outside the memory, and
    wasmtime aborts on such a fault in a shared memory."""
    run_isolated("reshape", window, int(churn))


# -- 2. names churned across the renumbering near DIR_SEQ_LIMIT -----------------------------------
RENUMBERED_BELOW = 1 << 31  # cookies (seq + 3) after the renumbering; before it, all above
Model = dict[str, bytes | None]  # a name in /n: a file's content, or None for a directory


class Churn:
    """One process changes /n (names never reused, but a rename over a name keeps it) and
    checks it against the model, through an fd on /n kept open throughout."""

    def __init__(self, w: Wasi, process: CoreProcess) -> None:
        self.w, self.process = w, process
        self.model: Model = {}
        self.made = 0
        self.last: list[tuple[int, str]] = []  # the last full listing: (cookie, name)
        err, self.fd = open_fd(process, b"n", O_DIRECTORY, RIGHT_FD_READDIR)
        assert err == 0

    def fresh(self) -> str:
        self.made += 1
        return f"x{self.made}"

    def step(self, rng: random.Random) -> None:
        files = [name for name, data in self.model.items() if data is not None]
        dirs = [name for name, data in self.model.items() if data is None]
        p = self.process
        kind = rng.choices(
            ["create", "mkdir", "unlink", "rmdir", "rename", "rename-over"],
            [5, 1, 3 if len(self.model) > 20 else 1, 1, 2, 1],
        )[0]
        if kind == "create" or (not files and kind in ("unlink", "rename", "rename-over")):
            name = self.fresh()
            data = f"content of {name}".encode()
            assert create_and_write(p, f"n/{name}".encode(), data) == 0
            self.model[name] = data
            self.assert_found(name)
        elif kind == "mkdir" or (kind == "rmdir" and not dirs):
            name = self.fresh()
            assert call_with_name(p, "path_create_directory", f"n/{name}".encode()) == 0
            self.model[name] = None
            self.assert_found(name)
        elif kind == "rmdir":
            name = rng.choice(dirs)
            assert call_with_name(p, "path_remove_directory", f"n/{name}".encode()) == 0
            del self.model[name]
            self.assert_gone(name)
        elif kind == "unlink":
            name = rng.choice(files)
            assert call_with_name(p, "path_unlink_file", f"n/{name}".encode()) == 0
            del self.model[name]
            self.assert_gone(name)
            for other in self.model:  # it took its own name, no other
                self.assert_found(other)
        else:
            old = rng.choice(files)
            new = rng.choice([f for f in files if f != old] or [self.fresh()])
            if kind == "rename":
                new = self.fresh()
            assert two_names(p, "path_rename", f"n/{old}".encode(), f"n/{new}".encode()) == 0
            self.model[new] = self.model.pop(old)
            self.assert_gone(old)
            self.assert_found(new)

    def assert_found(self, name: str) -> None:
        assert stat_errno(self.process, f"n/{name}".encode()) == 0, name
        data = self.model[name]
        if data is None:
            assert self.w.is_dir(f"/n/{name}")
        else:
            assert self.w.read_file(f"/n/{name}") == data, name

    def assert_gone(self, name: str) -> None:
        assert stat_errno(self.process, f"n/{name}".encode()) == ENOENT, name

    def check(self) -> bool:
        """Every name found and listed once (fd_readdir in small buffers, resumed at its own
        cookies; the host's listing); a listing resumed at each cookie of the last one gives
        the names there now made after it. True once the directory was renumbered."""
        for name in self.model:
            self.assert_found(name)
        entries = read_dir(self.process, self.fd, 0)
        names = [name for _cookie, name in entries]
        assert len(names) == len(set(names)), sorted(names)
        assert set(names) == set(self.model)
        assert sorted(self.w.listdir("/n")) == sorted(self.model)
        cookies = [cookie for cookie, _name in entries]
        assert cookies == sorted(cookies)
        renumbered = bool(cookies) and cookies[-1] < RENUMBERED_BELOW
        assert all((c < RENUMBERED_BELOW) == renumbered for c in cookies), cookies
        last_renumbered = bool(self.last) and self.last[-1][0] < RENUMBERED_BELOW
        resumes = {c for c, _name in self.last} | {2}
        for c in sorted(resumes | ({max(resumes) + 7} if self.last else set())):
            resumed = read_dir(self.process, self.fd, c)
            if not self.last or last_renumbered == renumbered:
                assert resumed == [(cc, n) for cc, n in entries if cc > c], c
            else:  # a cookie from before the renumbering: another place now (dir.c)
                got = [n for _cc, n in resumed]
                assert len(got) == len(set(got)) and set(got) <= set(self.model), c
        for c, name in entries:  # a name keeps its cookie until the renumbering
            same_epoch = last_renumbered == renumbered
            assert not same_epoch or dict((n, cc) for cc, n in self.last).get(name, c) == c, name
        self.last = entries
        return renumbered


def renumber_churn_case(alone_in_group: bool, seed: int) -> None:
    core = wasm_build.compile_core("renumbering", (NEAR_THE_LIMIT,))
    rng = random.Random(seed)
    with start_wasi(get_wasi(core)) as w:
        w.mkdir("/n")
        process = helper_process(w)
        stranger = None
        if alone_in_group:
            joined(w, process)
        else:  # another group's process: every change goes shared first
            stranger = helper_process(w)
            assert stranger.thread_group != process.thread_group
        churn = Churn(w, process)
        renumbered_at = None
        for step in range(STEPS):
            churn.step(rng)
            if step % 5 == 4:
                renumbered = churn.check()
                if renumbered and renumbered_at is None:
                    renumbered_at = step
                assert renumbered == (renumbered_at is not None), step
        assert renumbered_at is not None and renumbered_at < STEPS // 2, renumbered_at
        assert process.call("fd_close", churn.fd) == 0
        assert w.fsck() == 0
        for name in list(churn.model):  # everything goes, each name taking only itself
            if churn.model[name] is None:
                assert call_with_name(process, "path_remove_directory", f"n/{name}".encode()) == 0
            else:
                assert call_with_name(process, "path_unlink_file", f"n/{name}".encode()) == 0
            del churn.model[name]
        assert w.listdir("/n") == []
        w.rmdir("/n")
        process.detach()
        if stranger is not None:
            stranger.detach()
        assert w.fsck() == 0


STEPS = 400


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("alone_in_group", [True, False], ids=["alone", "beside-another-group"])
def test_names_churned_across_the_renumbering_are_found_listed_and_removed_exactly(
    alone_in_group: bool, seed: int
) -> None:
    """Creates, mkdirs, unlinks, rmdirs and renames (to new names and over others) in one
    directory whose numbers start 64 below DIR_SEQ_LIMIT, so that it renumbers early
    (dir.c renumber: numbers start again at the slot count), then keeps going with
    dir_slot_from guessing from the end of slots whose numbers have gaps (squeezed by
    reshapes). In a child process: a removal that takes the wrong slot searches the index
    for good, holding the lock."""
    run_isolated("renumber", int(alone_in_group), seed)


STOP_RENUMBERING = 15


def assert_listed_once(churn: Churn) -> list[tuple[int, str]]:
    """Every name of the model found and listed once, cookies growing, and a listing
    resumed at each cookie gives the names after it: whatever numbers the slots have."""
    for name in churn.model:
        churn.assert_found(name)
    entries = read_dir(churn.process, churn.fd, 0)
    assert [cookie for cookie, _name in entries] == sorted({cookie for cookie, _name in entries})
    assert sorted(name for _cookie, name in entries) == sorted(churn.model)
    assert sorted(churn.w.listdir("/n")) == sorted(churn.model)
    for cookie, _name in entries:
        assert read_dir(churn.process, churn.fd, cookie) == [e for e in entries if e[0] > cookie]
    return entries


def renumber_stop_case() -> None:
    """The first renumbering stops halfway (a loop header: -DSTOP_WINDOW=15) inside an
    alone process's create or rename; reaped, the directory holds its names, numbered
    small then large, each found and listed once; then another process's inserts end the
    renumbering and the churn goes on."""
    knob = f"-DSTOP_WINDOW={STOP_RENUMBERING}"
    core = wasm_build.compile_core("renumber-stop", (NEAR_THE_LIMIT, knob))
    rng = random.Random(3)
    with start_wasi(get_wasi(core)) as w:
        w.mkdir("/n")
        with alone(w) as pair:
            churn = Churn(w, pair.victim)
            with pytest.raises(wasmtime.Trap):
                for _ in range(STEPS):
                    churn.step(rng)
            pair.end_stopped("reap")
            assert w.fsck() == 0
            churn.process = pair.reaper
            err, churn.fd = open_fd(pair.reaper, b"n", O_DIRECTORY, RIGHT_FD_READDIR)
            assert err == 0
            cookies = [cookie for cookie, _name in assert_listed_once(churn)]
            assert cookies[0] < RENUMBERED_BELOW <= cookies[-1], cookies  # stopped halfway
            churn.last = []
            for step in range(STEPS // 2):
                churn.step(rng)
                if step % 5 == 4:
                    assert churn.check()  # all numbered afresh
            assert pair.reaper.call("fd_close", churn.fd) == 0
            assert w.fsck() == 0


def test_a_renumbering_stopped_halfway_leaves_every_name_in_order() -> None:
    run_isolated("renumber-stop")


# -- running a case in a child process ------------------------------------------------------------
CHILD_TIMEOUT = 120.0
CASES: dict[str, Callable[..., None]] = {
    "reshape": lambda window, churn: reshape_stop_case(window, bool(churn)),
    "renumber": lambda alone_in_group, seed: renumber_churn_case(bool(alone_in_group), seed),
    "renumber-stop": renumber_stop_case,
}


def run_isolated(case: str, *args: int) -> None:
    """CASES[case](*args) in a child Python: a fault or a hang fails the test, not the run."""
    child = subprocess.run(
        [sys.executable, __file__, case, *map(str, args)], capture_output=True, text=True,
        timeout=CHILD_TIMEOUT, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    assert child.returncode == 0, (child.stdout[-3000:], child.stderr[-3000:])


if __name__ == "__main__":
    CASES[sys.argv[1]](*map(int, sys.argv[2:]))
