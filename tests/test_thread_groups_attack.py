"""Attacks on thread groups (wasi_wasm_thread_group, lock.c vfs_alone) and on the exclusive
holds that no longer drain the holders' block caches (alloc.c mem_alloc's retry,
filedata.c reserve's drain).

A thread group is only a promise that its processes never run at the same time; a host that
breaks it (processes of one group on several threads at once) may lose parallelism, never
correctness. Here real Python threads, each with a Store and a core process of its own,
all join one group and race directory changes on shared and separate names while another
thread keeps attaching and detaching a process of another group, so that the sole group
flips under them (exclusive-at-once and shared-first paths side by side). Afterwards fsck is
clean and every name is exactly where the threads' own counts say it must be."""

from __future__ import annotations

import errno
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from test_reap import core_process
from test_stopped_calls import call_with_name
from test_stopped_writes import ALL_RIGHTS, helper_process
from wasi_wasm import Limits, Wasi, start_wasi
from wasi_wasm._process import CoreProcess

O_CREAT = 1
O_EXCL = 4
ROOT_FD = 3
# WASI errnos (not the host's)
E_EXIST = 20
E_NOENT = 44
E_NOSPC = 51


def open_fd(
    process: CoreProcess, name: bytes, oflags: int, rights: int = ALL_RIGHTS
) -> tuple[int, int]:
    """path_open(fd 3, name, oflags, rights): (errno, fd)."""
    with process.scratch(len(name) + 4) as path:
        process.memory.write(path, name)
        out = path + len(name)
        err = process.call("path_open", ROOT_FD, 0, path, len(name), oflags, rights, 0, 0, out)
        return int(err), int.from_bytes(process.memory.read(out, 4), "little")


def create(process: CoreProcess, name: bytes, exclusive: bool = False) -> int:
    err, fd = open_fd(process, name, O_CREAT | (O_EXCL if exclusive else 0))
    if not err:
        assert process.call("fd_close", fd) == 0
    return err


def two_names(process: CoreProcess, function: str, old: bytes, new: bytes) -> int:
    """path_rename(3, old, 3, new) or path_link(3, 0, old, 3, new)."""
    with process.scratch(len(old) + len(new)) as buf:
        process.memory.write(buf, old + new)
        flags: tuple[int, ...] = (0,) if function == "path_link" else ()
        args = (ROOT_FD, *flags, buf, len(old), ROOT_FD, buf + len(old), len(new))
        return int(process.call(function, *args))


def run_threads(targets: list[Callable[[], None]], timeout: float = 60.0) -> None:
    """Runs each target on a thread of its own; re-raises the first failure, fails on a hang."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(t,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


# -- 1. a broken promise costs parallelism, never correctness -----------------------------------
WORKERS = 3
ROUNDS = 1500


def grouped_worker(
    w: Wasi, group: int, index: int, start: threading.Barrier, tallies: dict[str, Counter[str]]
) -> Callable[[], None]:
    """A thread whose process joins ``group`` (shared with every other worker: a broken
    promise) and changes its own directory, its own names in /s, and contended names."""

    def work() -> None:
        process = helper_process(w)  # made on this thread: a Store of its own
        assert process.call("wasi_wasm_thread_group", group) & 0xFFFF_FFFF == group
        tally: Counter[str] = Counter()
        own = f"t{index}".encode()
        assert call_with_name(process, "path_create_directory", own) == 0
        start.wait()
        for i in range(ROUNDS):
            # Its own directory: a name made, renamed, linked, half removed.
            a, b = own + f"/a{i}".encode(), own + f"/b{i}".encode()
            assert create(process, a) == 0
            assert two_names(process, "path_rename", a, b) == 0
            assert two_names(process, "path_link", b, own + f"/l{i}".encode()) == 0
            if i % 2:
                assert call_with_name(process, "path_unlink_file", b) == 0
            d = own + f"/d{i}".encode()
            assert call_with_name(process, "path_create_directory", d) == 0
            if i % 3:
                assert call_with_name(process, "path_remove_directory", d) == 0
            # Its own names in the shared directory /s.
            mine = f"s/x{index}-{i}".encode()
            assert call_with_name(process, "path_create_directory", mine) == 0
            moved = f"s/y{index}-{i}".encode()
            assert two_names(process, "path_rename", mine, moved) == 0
            if i % 4:
                assert call_with_name(process, "path_remove_directory", moved) == 0
            # Contended names: a token file every worker races for, and a directory.
            err = create(process, b"s/token", exclusive=True)
            assert err in (0, E_EXIST), err
            tally["token_made"] += err == 0
            err = two_names(process, "path_link", b"s/token", f"s/hold{index}".encode())
            assert err in (0, E_NOENT), err
            if not err:
                tally["held"] += 1
                assert call_with_name(process, "path_unlink_file", f"s/hold{index}".encode()) == 0
            err = call_with_name(process, "path_unlink_file", b"s/token")
            assert err in (0, E_NOENT), err
            tally["token_gone"] += err == 0
            err = call_with_name(process, "path_create_directory", b"s/dir")
            assert err in (0, E_EXIST), err
            tally["dir_made"] += err == 0
            err = two_names(process, "path_rename", b"s/dir", f"s/mine{index}".encode())
            assert err in (0, E_NOENT), err
            if not err:
                tally["dir_gone"] += 1
                mine_dir = f"s/mine{index}".encode()
                assert call_with_name(process, "path_remove_directory", mine_dir) == 0
            err = call_with_name(process, "path_remove_directory", b"s/dir")
            assert err in (0, E_NOENT), err
            tally["dir_gone"] += err == 0
        process.detach()
        tallies[f"w{index}"] = tally

    return work


def flipper(w: Wasi, stop: threading.Event, tallies: dict[str, Counter[str]]) -> Callable[[], None]:
    """A thread that attaches a process of another group, changes a name, detaches: the
    sole group goes to 0 and back while the workers run."""

    def work() -> None:
        tally: Counter[str] = Counter()
        while not stop.is_set():
            process = core_process(w.init_obj())
            process.bind(process.memory.memory)
            process.preopen("/", "/")
            name = f"f/n{tally['rounds']}".encode()
            assert call_with_name(process, "path_create_directory", name) == 0
            if tally["rounds"] % 2:
                assert call_with_name(process, "path_remove_directory", name) == 0
            process.detach()
            tally["rounds"] += 1
        tallies["flipper"] = tally

    return work


def test_a_broken_group_promise_with_a_flipping_sole_group_keeps_every_name() -> None:
    with start_wasi() as w:
        for top in ("/s", "/f"):
            w.mkdir(top)
        group = w._process.thread_group
        start = threading.Barrier(WORKERS)
        stop = threading.Event()
        tallies: dict[str, Counter[str]] = {}
        workers = [grouped_worker(w, group, i, start, tallies) for i in range(WORKERS)]

        def workers_then_stop() -> None:
            try:
                run_threads(workers)
            finally:
                stop.set()

        run_threads([workers_then_stop, flipper(w, stop, tallies)])
        assert w.fsck() == 0
        total: Counter[str] = Counter()
        for index in range(WORKERS):
            total.update(tallies[f"w{index}"])
            want = {f"l{i}" for i in range(ROUNDS)}
            want |= {f"b{i}" for i in range(ROUNDS) if not i % 2}
            want |= {f"d{i}" for i in range(ROUNDS) if not i % 3}
            assert set(w.listdir(f"/t{index}")) == want
            for i in range(ROUNDS):
                if not i % 2:
                    assert w.stat(f"/t{index}/l{i}").nlink == 2
        shared = set(w.listdir("/s"))
        token = "token" in shared
        dirs = {"dir"} & shared
        assert total["token_made"] - total["token_gone"] == int(token)
        assert total["dir_made"] - total["dir_gone"] == len(dirs)
        want_s = {
            f"y{index}-{i}" for index in range(WORKERS) for i in range(ROUNDS) if not i % 4
        }
        assert shared - {"token", "dir"} == want_s
        rounds = tallies["flipper"]["rounds"]
        assert set(w.listdir("/f")) == {f"n{r}" for r in range(rounds) if not r % 2}
        assert rounds > 0, rounds


# -- 2. the last free room kept in the holders' block caches ---------------------------------------
BUDGET = 1 << 20
CYCLE = 37  # not a multiple of CACHE_BATCH (8): refills leave blocks in the cache


def write_all(process: CoreProcess, fd: int, data: bytes) -> int:
    """fd_write of data in one iovec: the errno (the whole of it written on success)."""
    with process.scratch(len(data) + 16) as buf:
        iovec = buf + len(data)
        process.memory.write(buf, data)
        process.memory.write(iovec, struct.pack("<II", buf, len(data)))
        err = int(process.call("fd_write", fd, iovec, 1, iovec + 8))
        if not err:
            assert int.from_bytes(process.memory.read(iovec + 8, 4), "little") == len(data)
        return err


def create_and_write(process: CoreProcess, name: bytes, data: bytes) -> int:
    err, fd = open_fd(process, name, O_CREAT | O_EXCL)
    if err:
        return err
    err = write_all(process, fd, data)
    assert process.call("fd_close", fd) == 0
    return err


def churn(process: CoreProcess, directory: bytes, count: int = CYCLE) -> None:
    """Creates and unlinks count files under the lock shared (another group's process is
    there): the freed inodes wait in the process's block cache, counted as used."""
    for i in range(count):
        assert create(process, directory + f"/p{i}".encode()) == 0
    for i in range(count):
        assert call_with_name(process, "path_unlink_file", directory + f"/p{i}".encode()) == 0


def fill(w: Wasi) -> list[str]:
    """Fills /fill until not one more byte fits: 128 KiB files, then smaller ones."""
    names: list[str] = []
    for size in (128 << 10, 64 << 10, 8000, 1000, 100, 1):
        while True:
            name = f"/fill/f{len(names)}-{size}"
            try:
                w.write_file(name, bytes(size))
            except OSError as error:
                assert error.errno == errno.ENOSPC
                break
            names.append(name)
    return names


@pytest.fixture
def full_filesystem() -> Iterator[tuple[Wasi, list[CoreProcess], int, list[str]]]:
    """A filesystem of BUDGET bytes with two processes of other groups (their creates and
    removals take the shared path, which fills their caches), warmed so that their
    directories and fd tables stop growing; then filled to the last byte. Yields the Wasi,
    the processes, the used bytes before the fill, and the files that filled it."""
    with start_wasi(limits=Limits(max_fs_bytes=BUDGET)) as w:
        w.mkdir("/fill")
        processes = [helper_process(w) for _ in range(2)]
        for index, process in enumerate(processes):
            assert process.thread_group != w._process.thread_group
            own = f"p{index}".encode()
            assert call_with_name(process, "path_create_directory", own) == 0
            for _ in range(12):  # a directory where names come and go grows to 256 slots
                churn(process, own)
            assert create_and_write(process, b"warm", b"x") == 0
            assert call_with_name(process, "path_unlink_file", b"warm") == 0
        base = w.used_bytes()
        churn(processes[0], b"p0")
        assert w.used_bytes() == base  # warm: a cycle leaves nothing behind
        names = fill(w)
        yield w, processes, base, names
        for process in processes:
            process.detach()


def assert_room_comes_back(w: Wasi, base: int) -> None:
    """The filler files removed, the filesystem holds exactly what it held before them."""
    w.rmtree("/fill")
    w.mkdir("/fill")
    assert w.used_bytes() == base
    assert w.fsck() == 0


def test_an_exclusive_write_gets_the_room_the_block_caches_keep(
    full_filesystem: tuple[Wasi, list[CoreProcess], int, list[str]],
) -> None:
    """A 128 KiB file removed and written again, with the caches holding part of its room:
    the write fits only once the exclusive hold takes the cached blocks back."""
    w, processes, base, names = full_filesystem
    full = w.used_bytes()
    big = names[0]
    for turn in range(3):
        w.remove(big)
        for index, process in enumerate(processes):
            churn(process, f"p{index}".encode())  # no used_bytes here: it would drain
        if turn < 2:
            w.write_file(big, bytes(128 << 10))  # exclusive: the host's write
        else:  # shared first (another group is there), then exclusive for the room
            assert create_and_write(processes[0], big[1:].encode(), bytes(128 << 10)) == 0
        assert w.fsck() == 0
        assert w.used_bytes() == full
    with pytest.raises(OSError) as no_room:
        w.write_file("/fill/one-more", bytes(1))
    assert no_room.value.errno == errno.ENOSPC
    assert_room_comes_back(w, base)


def test_creates_and_a_crumb_get_the_room_the_block_caches_keep(
    full_filesystem: tuple[Wasi, list[CoreProcess], int, list[str]],
) -> None:
    """The last file that fitted removed: one process's shared creates and removals leave
    its room in that process's cache; the other process makes the file again (shared create
    and write, retried exclusive), and so does the host (an exclusive create's allocations)."""
    w, processes, base, names = full_filesystem
    full = w.used_bytes()
    crumb = names[-1]
    size = int(crumb.rsplit("-", 1)[1])
    first, second = processes
    for turn in range(4):
        w.remove(crumb)
        # It may run short itself (its own cache or the reclaim list holds the room): the
        # exclusive retry must then find it.
        assert create(first, b"p0/tmp") == 0
        assert call_with_name(first, "path_unlink_file", b"p0/tmp") == 0
        if turn % 2:
            w.write_file(crumb, bytes(size))
        else:
            assert create_and_write(second, crumb[1:].encode(), bytes(size)) == 0
        assert w.fsck() == 0
        assert w.used_bytes() == full
    assert_room_comes_back(w, base)


def test_a_write_past_chunk_0_gets_the_room_the_block_caches_keep(
    full_filesystem: tuple[Wasi, list[CoreProcess], int, list[str]],
) -> None:
    """A 128 KiB file cut to 64 KiB and grown back by a write of its chunk 1: only reserve's
    budget check stands between (chunk 0 is there), and the chunk fits only once the
    exclusive retry of the shared write takes the cached blocks back (filedata.c reserve)."""
    w, processes, _base, names = full_filesystem
    full = w.used_bytes()
    big = names[0][1:].encode()
    writer = processes[1]
    err, fd = open_fd(writer, big, 0)
    assert err == 0
    for _turn in range(3):
        assert writer.call("fd_filestat_set_size", fd, 64 << 10) == 0
        for index, process in enumerate(processes):
            churn(process, f"p{index}".encode())  # no used_bytes here: it would drain
        assert pwrite_errno(writer, fd, b"\xab" * (64 << 10), 64 << 10) == 0
        assert w.fsck() == 0
        assert w.used_bytes() == full
    assert writer.call("fd_close", fd) == 0
    assert w.read_file(names[0]) == bytes(64 << 10) + b"\xab" * (64 << 10)


def pwrite_errno(process: CoreProcess, fd: int, data: bytes, offset: int) -> int:
    with process.scratch(len(data) + 16) as buf:
        iovec = buf + len(data)
        process.memory.write(buf, data)
        process.memory.write(iovec, struct.pack("<II", buf, len(data)))
        err = int(process.call("fd_pwrite", fd, iovec, 1, offset, iovec + 8))
        if not err:
            assert int.from_bytes(process.memory.read(iovec + 8, 4), "little") == len(data)
        return err


# -- 3. readdir cookies around dir_slot_from's guess -----------------------------------------------
O_DIRECTORY = 2
RIGHT_FD_READDIR = 1 << 14
DIRENT = struct.Struct("<QQIB3x")


def read_dir(process: CoreProcess, fd: int, cookie: int) -> list[tuple[int, str]]:
    """Every (cookie, name) fd_readdir gives from cookie on, in small buffers (resuming at
    the last cookie each time, as libc does), without "." and ".."."""
    got: list[tuple[int, str]] = []
    size = 200  # a few entries a call: most resumes land mid-directory
    while True:
        with process.scratch(size + 4) as buf:
            assert process.call("fd_readdir", fd, buf, size, cookie, buf + size) == 0
            used = int.from_bytes(process.memory.read(buf + size, 4), "little")
            raw = process.memory.read(buf, used)
        pos, whole = 0, []
        while pos + DIRENT.size <= used:
            d_next, _ino, namlen, _type = DIRENT.unpack_from(raw, pos)
            if pos + DIRENT.size + namlen > used:
                break  # cut short: read again from the last whole entry's cookie
            whole.append((d_next, raw[pos + DIRENT.size : pos + DIRENT.size + namlen].decode()))
            pos += DIRENT.size + namlen
        if not whole:
            return got
        got += [(c, name) for c, name in whole if name not in (".", "..")]
        cookie = whole[-1][0]


def test_readdir_resumes_at_cookies_of_removed_present_and_future_entries() -> None:
    """A process alone in its group (its changes exclusive) churns names at a directory's
    end, where dir_slot_from guesses the slot, and a readdir resumes at the cookie of a name
    still there, of one removed (squeezed out by a reshape or not), and of one not made yet:
    each gives exactly the names there now made after it."""
    with start_wasi() as w:
        w.mkdir("/r")
        process = helper_process(w)
        assert process.call("wasi_wasm_thread_group", w._process.thread_group) != 0
        err, fd = open_fd(process, b"r", O_DIRECTORY, RIGHT_FD_READDIR)
        assert err == 0
        cookies: dict[str, int] = {}  # every name ever listed, present or not
        present: set[str] = set()

        def listed() -> None:
            full = read_dir(process, fd, 2)
            assert [c for c, _ in full] == sorted(c for c, _ in full)
            assert {name for _, name in full} == present
            for c, name in full:
                assert cookies.setdefault(name, c) == c  # a name keeps its cookie
            for c in sorted({*cookies.values(), 2, max(cookies.values(), default=2) + 7}):
                want = sorted((cookies[n], n) for n in present if cookies[n] > c)
                assert read_dir(process, fd, c) == want, c

        for i in range(120):
            assert call_with_name(process, "path_create_directory", f"r/n{i}".encode()) == 0
            present.add(f"n{i}")
        for i in range(0, 120, 3):
            assert call_with_name(process, "path_remove_directory", f"r/n{i}".encode()) == 0
            present.discard(f"n{i}")
        listed()
        for k in range(60):  # mkdir and rmdir at the end: the guess's case
            name = f"t{k}"
            assert call_with_name(process, "path_create_directory", f"r/{name}".encode()) == 0
            present.add(name)
            if k % 5 == 0:
                listed()
            assert call_with_name(process, "path_remove_directory", f"r/{name}".encode()) == 0
            present.discard(name)
            if k % 7 == 0:
                old = f"n{(3 * k + 1) % 120}"  # never a multiple of 3: still there
                assert call_with_name(process, "path_remove_directory", f"r/{old}".encode()) == 0
                present.discard(old)
        listed()
        assert process.call("fd_close", fd) == 0
        process.detach()
        assert w.fsck() == 0


# -- 4. a join of a guessed number ----------------------------------------------------------------
def test_a_join_of_a_number_the_next_process_gets_is_a_broken_promise_and_harmless() -> None:
    """A group number is the registration count: a process that joins the next number shares
    its group with the next process made (on another thread here), and with the Wasi's own
    processes joined too every process is in it. Both threads then take the exclusive path
    at once, beside each other: they take turns, and every name is kept."""
    with start_wasi() as w:
        w.mkdir("/c")
        early = helper_process(w)
        probe = helper_process(w)
        guessed = probe.thread_group + 1
        probe.detach()
        assert early.call("wasi_wasm_thread_group", guessed) & 0xFFFF_FFFF == guessed
        w._process.call("wasi_wasm_thread_group", guessed)
        host, _root = w._state.host_process()
        host.call("wasi_wasm_thread_group", guessed)
        made: list[CoreProcess] = []
        start = threading.Barrier(2, timeout=20)

        def late_thread() -> None:
            late = helper_process(w)
            made.append(late)
            assert late.thread_group == guessed, (late.thread_group, guessed)
            start.wait()
            loop(late, "late")
            late.detach()

        def early_thread() -> None:
            start.wait()
            loop(early, "early")

        def loop(process: CoreProcess, tag: str) -> None:
            for i in range(400):
                name = f"c/{tag}{i}".encode()
                assert call_with_name(process, "path_create_directory", name) == 0
                assert two_names(process, "path_rename", name, name + b"x") == 0
                if i % 2:
                    assert call_with_name(process, "path_remove_directory", name + b"x") == 0

        run_threads([late_thread, early_thread])
        early.detach()
        assert made
        want = {f"{tag}{i}x" for tag in ("early", "late") for i in range(400) if not i % 2}
        assert set(w.listdir("/c")) == want
        assert w.fsck() == 0
