"""Threads doing conflicting things on one filesystem: N threads, each running its own copy of
tests/programs/stress_ops.c on one shared filesystem (start_wasi(init) per thread), rename
files and directories across directories, remove directories while others create in them,
list a directory while others change it, and link and unlink the same files. Every program
checks each outcome against what the races allow; afterwards the core's fsck is clean and the
whole tree is exactly what the programs' reports say it must be: every content file a program
reported closed is there once (wherever renames took it), byte for byte, unless the program
reported removing it; the link counts match the names; and nothing else is there.

The same programs run in Node worker_threads through the JS loader (tests/js/stress_ops.mjs),
their tree checked here by the same code.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from wasi_wasm import Wasi, start_wasi

ROOT = Path(__file__).resolve().parent.parent
GUEST_ROOT = "/w"  # the programs' preopen, the same VFS directory
SOURCES = 4  # l/src<S>, as in stress_ops.c
TOP = {"a", "b", "c", "keep", "r", "x", "l"}


@pytest.fixture(scope="module")
def stress_ops(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("stress_ops")


# -- the content of a file, as stress_ops.c's make_content makes it ----------------------------
@cache
def fnv1a(data: bytes) -> int:
    h = 2166136261
    for byte in data:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


@cache
def expected_content(name: str) -> bytes:
    raw = name.encode()
    h = fnv1a(raw)
    length = 1 + h % 3000 + (66000 if (h >> 16) % 8 == 0 else 0)
    shifts = [(h >> (8 * k)) & 0xFF for k in range(4)]
    head = raw + b"\n"
    body = bytes((shifts[i & 3] + i * 7 + (i >> 8)) & 0xFF for i in range(len(head), length))
    return (head + body)[:length]


# -- what a program reported -------------------------------------------------------------------
@dataclass
class Report:
    mode: str
    thread: int
    t0: int
    t1: int
    counts: dict[str, int]
    closed: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (length, sum)
    removed: list[str] = field(default_factory=list)
    linked: set[str] = field(default_factory=set)
    present: set[str] = field(default_factory=set)
    listed: dict[int, int] = field(default_factory=dict)  # thread -> highest K listed


DONE = re.compile(r"done (\w+) (\d+) t0=(\d+) t1=(\d+)((?: \w+=\d+)*)")


def parse_report(stdout: str) -> Report:
    """The program's stdout as a Report; a malformed or missing line is an AssertionError."""
    lines = stdout.splitlines()
    assert lines, "no output"
    done = DONE.fullmatch(lines[-1])
    assert done, f"the last line is not a done line: {lines[-1]!r}"
    counts = {k: int(v) for k, v in (pair.split("=") for pair in done.group(5).split())}
    report = Report(done.group(1), int(done.group(2)), int(done.group(3)), int(done.group(4)),
                    counts)  # fmt: skip
    for line in lines[:-1]:
        kind, _, rest = line.partition(" ")
        if kind == "closed":
            path, length, checksum = rest.split()
            assert path not in report.closed, f"{path} closed twice"
            report.closed[path] = (int(length), int(checksum, 16))
        elif kind == "removed":
            report.removed.append(rest)
        elif kind == "linked":
            report.linked.add(rest)
        elif kind == "present":
            report.present.add(rest)
        elif kind == "listed":
            match = re.fullmatch(r"n(\d+)_(\d+)", rest)
            assert match, line
            report.listed[int(match.group(1))] = int(match.group(2))
        else:
            raise AssertionError(f"unexpected line {line!r}")
    return report


# -- the filesystem after the run --------------------------------------------------------------
@dataclass(frozen=True)
class File:
    data: bytes
    ino: int
    nlink: int


@dataclass
class Tree:
    files: dict[str, File]  # path relative to the root -> what is there
    dirs: set[str]
    dir_inos: dict[str, int] = field(default_factory=dict)  # where the walk recorded them


def walk(fs: Wasi, root: str = GUEST_ROOT) -> Tree:
    tree = Tree({}, set())
    pending = [""]
    while pending:
        relative = pending.pop()
        for name in fs.listdir(f"{root}/{relative}" if relative else root):
            path = f"{relative}/{name}" if relative else name
            info = fs.lstat(f"{root}/{path}")
            if info.is_dir:
                tree.dirs.add(path)
                tree.dir_inos[path] = info.ino
                pending.append(path)
            else:
                assert info.is_file, f"{path}: {info.filetype}"
                tree.files[path] = File(fs.read_file(f"{root}/{path}"), info.ino, info.nlink)
    return tree


def check_tree(tree: Tree, reports: list[Report]) -> list[str]:
    """Everything wrong with `tree` after programs that reported `reports` (empty: all good)."""
    unaccounted = dict(tree.files)  # each check takes out the files it accounts for
    problems = _check_content_files(tree, reports, unaccounted)
    problems += _check_listed_names(tree, reports, unaccounted)
    problems += _check_links(tree, reports, unaccounted)
    problems += _check_inode_numbers(tree)
    # Nothing else: no file left behind, only the directories the programs make.
    problems += [f"{path}: a file no program leaves" for path in sorted(unaccounted)]
    for path in sorted(tree.dirs):
        parts = path.split("/")
        top, rest = parts[0], parts[1:]
        expected = (
            (not rest and top in TOP)
            or (top == "x" and len(rest) == 1 and re.fullmatch(r"box\d+", rest[0]))
            or (top in ("a", "b", "c") and all(re.fullmatch(r"d\d+_\d+", p) for p in rest))
        )
        if not expected:
            problems.append(f"{path}/: a directory no program leaves")
    return problems


def _check_content_files(
    tree: Tree, reports: list[Report], unaccounted: dict[str, File]
) -> list[str]:
    """Content files f<T>_<K>: each reported one there exactly once, byte for byte, unless
    removed; in keep/ (which nobody renames) at its own path, else under a/, b/ or c/."""
    problems: list[str] = []
    expected: dict[str, tuple[str, int, int]] = {}
    for report in reports:
        for path, (length, checksum) in report.closed.items():
            name = path.rsplit("/", 1)[-1]
            if not re.fullmatch(rf"f{report.thread}_\d+", name):
                problems.append(f"thread {report.thread} closed {path}, not one of its names")
            if name in expected:
                problems.append(f"{name} closed twice")
            expected[name] = (path, length, checksum)
        for path in report.removed:
            name = path.rsplit("/", 1)[-1]
            if expected.pop(name, None) is None:
                problems.append(f"thread {report.thread} removed {path}, never closed")
    found: dict[str, list[str]] = {}
    for path in tree.files:
        name = path.rsplit("/", 1)[-1]
        if re.fullmatch(r"f\d+_\d+", name):
            found.setdefault(name, []).append(path)
            del unaccounted[path]
    for name, paths in sorted(found.items()):
        if name not in expected:
            problems.append(f"{paths}: no program reported closing it (or it was removed)")
            continue
        if len(paths) > 1:
            problems.append(f"{name} is there {len(paths)} times: {paths}")
        closed_path, length, checksum = expected[name]
        kept = closed_path.startswith("keep/")
        for path in paths:
            data = tree.files[path].data
            if path != closed_path if kept else path.split("/")[0] not in ("a", "b", "c"):
                problems.append(f"{closed_path} is at {path}")
            if data != expected_content(name):
                problems.append(f"{path}: {len(data)} bytes, not what was written")
            if (len(data), fnv1a(data)) != (length, checksum):
                problems.append(f"{path}: not the length and sum the program reported")
    for name, (path, _, _) in sorted(expected.items()):
        if name not in found:
            problems.append(f"{path} (closed, not removed) is gone")
    return problems


def _check_listed_names(
    tree: Tree, reports: list[Report], unaccounted: dict[str, File]
) -> list[str]:
    """r/: exactly the names the programs say they have; no listing showed a name of a thread
    before that thread made it."""
    problems: list[str] = []
    in_r = {path for path in tree.files if path.startswith("r/")}
    present = {f"r/{name}" for report in reports for name in report.present}
    if in_r != present:
        problems.append(f"r/ holds {sorted(in_r - present)} more, {sorted(present - in_r)} less")
    for path in in_r:
        del unaccounted[path]
    made = {report.thread: report.counts["names_made"] for report in reports}
    for report in reports:
        for thread, highest in report.listed.items():
            if highest >= made.get(thread, 0):
                problems.append(f"thread {report.thread} listed n{thread}_{highest}: never made")
    return problems


def _check_inode_numbers(tree: Tree) -> list[str]:
    """One inode number, one node: the names sharing a file's number are as many as its link
    count (so they are its hard links), and no directory shares a number. Threads create at
    once with numbers their holders take in batches (vfs/inode.c)."""
    names: dict[int, list[str]] = {}
    for path, file in tree.files.items():
        names.setdefault(file.ino, []).append(path)
    for path, ino in tree.dir_inos.items():
        names.setdefault(ino, []).append(f"{path}/")
    problems = []
    for ino, paths in names.items():
        nodes = {tree.files[p].nlink if p in tree.files else 0 for p in paths}
        if len(paths) > 1 and nodes != {len(paths)}:
            problems.append(f"inode {ino} is {sorted(paths)}")
    return problems


def _check_links(tree: Tree, reports: list[Report], unaccounted: dict[str, File]) -> list[str]:
    """l/: all names of family S are one file, src<S>'s, whose link count is the number of
    names; the own links are those the programs say they have."""
    problems: list[str] = []
    families: dict[int, list[str]] = {source: [] for source in range(SOURCES)}
    for path in [p for p in tree.files if p.startswith("l/")]:
        del unaccounted[path]
        match = re.fullmatch(r"src(\d+)|h(\d+)_\d+|o\d+_(\d+)_\d+", path[2:])
        source = int(next(g for g in match.groups() if g is not None)) if match else -1
        if source not in families:
            problems.append(f"{path}: a name no program makes")
            continue
        families[source].append(path)
    own = {f"l/{name}" for report in reports for name in report.linked}
    own_found = {path for path in tree.files if re.fullmatch(r"l/o\d+_\d+_\d+", path)}
    if own != own_found:
        problems.append(
            f"own links: {sorted(own_found - own)} more, {sorted(own - own_found)} less"
        )
    for source, names in families.items():
        if f"l/src{source}" not in names:
            problems.append(f"l/src{source} is gone")
        if len({tree.files[p].ino for p in names}) > 1:
            problems.append(f"the names of src{source} are not one file: {sorted(names)}")
        for path in names:
            if tree.files[path].nlink != len(names):
                problems.append(f"{path}: nlink {tree.files[path].nlink}, {len(names)} names")
            if tree.files[path].data != expected_content(f"src{source}"):
                problems.append(f"{path}: not src{source}'s content")
    return problems


# -- running the programs in threads -----------------------------------------------------------
@dataclass
class Outcome:
    reports: list[Report]
    tree: Tree
    fsck: int

    def total(self, counter: str) -> int:
        return sum(report.counts[counter] for report in self.reports)


def run_threads(program: Path, mode: str, threads: int, iterations: int) -> Outcome:
    with start_wasi(preopens={}) as fs:
        setup = fs.run(program, ["setup", GUEST_ROOT], preopens={GUEST_ROOT: GUEST_ROOT})
        assert setup.exit_code == 0, setup.stderr
        init = fs.init_obj()
        start = threading.Barrier(threads)
        outputs: list[tuple[int, str, str] | None] = [None] * threads
        errors: list[str] = []

        def worker(number: int) -> None:
            try:
                with start_wasi(init) as mine:
                    start.wait()
                    args = [mode, GUEST_ROOT, str(number), str(threads), str(iterations)]
                    result = mine.run(program, args, preopens={GUEST_ROOT: GUEST_ROOT})
                    outputs[number] = (result.exit_code, result.stdout.decode(),
                                       result.stderr.decode())  # fmt: skip
            except BaseException as error:
                errors.append(f"thread {number}: {error!r}")
                start.abort()

        workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        assert errors == []
        done = [output for output in outputs if output is not None]
        assert len(done) == threads
        failures = [f"thread {n}: exit {code}: {stderr[-2000:]}"
                    for n, (code, _, stderr) in enumerate(done) if code != 0]  # fmt: skip
        assert failures == [], failures
        reports = [parse_report(stdout) for _, stdout, _ in done]
        return Outcome(reports, walk(fs), fs.fsck())


def run_each(program: Path, init: Any, argvs: list[list[str]]) -> list[str]:
    """Runs program once per argv, each in its own thread and Wasi on init's filesystem, all
    started together; the stdout of each, after checking that every one exited 0."""
    start = threading.Barrier(len(argvs))
    outputs: list[str] = [""] * len(argvs)
    errors: list[str] = []

    def worker(number: int) -> None:
        try:
            with start_wasi(init) as mine:
                start.wait()
                result = mine.run(program, argvs[number], preopens={GUEST_ROOT: GUEST_ROOT})
                if result.exit_code != 0:
                    stderr = result.stderr[-2000:]
                    errors.append(f"{argvs[number]}: exit {result.exit_code}: {stderr!r}")
                outputs[number] = result.stdout.decode()
        except BaseException as error:
            errors.append(f"{argvs[number]}: {error!r}")
            start.abort()

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(len(argvs))]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert errors == []
    return outputs


def assert_healthy(outcome: Outcome, threads: int, at_least: dict[str, int]) -> None:
    assert outcome.fsck == 0
    assert sorted(report.thread for report in outcome.reports) == list(range(threads))
    problems = check_tree(outcome.tree, outcome.reports)
    assert problems == [], problems[:30]
    # They really ran at the same time: every program started before any finished.
    assert max(r.t0 for r in outcome.reports) < min(r.t1 for r in outcome.reports)
    # And really did the work (and met the races) that the test is about.
    totals = {counter: outcome.total(counter) for counter in at_least}
    assert all(totals[c] >= n for c, n in at_least.items()), totals
    assert outcome.total("files") > 0


# (mode, threads, iterations, counters that must reach at least so much, summed over threads)
CASES = {
    "rename": ("rename", 4, 40000, {
        "rename_ok": 20, "rename_enoent": 20, "dir_rename_ok": 20, "dir_rename_enoent": 20,
        "dir_rename_einval": 1, "dir_rename_enotempty": 1, "create_ok": 20, "create_enoent": 20,
        "mkdir_ok": 20, "rmdir_ok": 10, "rmdir_enotempty": 1, "removed": 10,
    }),
    "rmdir": ("rmdir", 4, 40000, {
        # ENOTEMPTY and the ENOENTs can only come from another thread's files and rmdirs.
        "rmdir_ok": 50, "rmdir_enotempty": 1, "box_create_ok": 100, "box_create_enoent": 1,
        "dead_dir_enoent": 1,
    }),
    "readdir": ("readdir", 4, 20000, {
        "lists": 100, "dir_creates": 100, "dir_unlinks": 100, "dir_renames": 100,
    }),
    "link": ("link", 4, 40000, {
        "link_ok": 100, "link_eexist": 1, "unlink_ok": 100, "unlink_enoent": 1,
        "src_unlinked": 10, "link_reads": 100,
    }),
    "all-8-threads": ("all", 8, 20000, {
        "rename_ok": 5, "dir_rename_ok": 5, "rmdir_ok": 10, "rmdir_enotempty": 1,
        "dead_dir_enoent": 1, "lists": 50, "link_ok": 50, "src_unlinked": 5, "removed": 10,
    }),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_conflicting_operations_in_threads(case: str, stress_ops: Path) -> None:
    mode, threads, iterations, at_least = CASES[case]
    outcome = run_threads(stress_ops, mode, threads, iterations)
    assert_healthy(outcome, threads, at_least)
    if mode == "readdir":
        # The listings saw other threads' names, not only their own.
        assert any(t != r.thread for r in outcome.reports for t in r.listed)


def test_appenders_that_open_and_close_never_lose_a_record(stress_rw: Path) -> None:
    """Appenders open one log for appending, add a record and close it, again and again:
    a writable open joins the file under the lock shared only while no fd holds it, else
    waits for the exclusive lock, so a writer that skips the data mutex (the file's only
    fd) never has company. Every record is in the log exactly once and whole (two writers
    without the mutex append at one size and overwrite each other)."""
    with start_wasi(preopens={}) as fs:
        fs.mkdir(GUEST_ROOT)
        roles = ["appender"] * 3
        argvs = [[role, GUEST_ROOT, str(n), str(RW_ROLES[role])] for n, role in enumerate(roles)]
        outputs = run_each(stress_rw, fs.init_obj(), argvs)
        assert [line.split()[0] for line in outputs] == roles
        assert fs.fsck() == 0
        log = fs.read_file(f"{GUEST_ROOT}/log")
    records = [log[i : i + 64] for i in range(0, len(log), 64)]
    expected = {f"appender {n} {i}" for n in range(3) for i in range(RW_ROLES["appender"])}
    seen = [record.rstrip(b"\n").rstrip(b".").decode(errors="replace") for record in records]
    assert len(log) == 64 * len(expected), f"{len(expected) - len(log) // 64} records lost"
    assert sorted(seen) == sorted(expected)


def test_a_truncating_open_frees_no_bytes_a_reader_reads(stress_rw: Path) -> None:
    """Truncators empty a 256 KiB file and fill it again, by turns reopening it with
    O_TRUNC or truncating it with ftruncate and then allocating it with posix_fallocate;
    when no other fd holds it, each runs under the lock shared and frees or replaces its
    chunks at once, so readers that open it meanwhile must wait (inode_join_reader_shared
    refuses while the count says emptying). Churn refills freed chunks with 0xCD: a
    reader that reached freed bytes sees them. Then fsck is clean and the file is whole."""
    roles = ["truncator", "truncator", "churn", "bigreader", "bigreader"]
    whole = b"\xab" * (256 << 10)  # at the start too: readers may start first
    assert rw_roles_on(stress_rw, roles, "big", whole) == whole


def test_files_moved_across_directories_beside_creators_are_never_lost(stress_rw: Path) -> None:
    """Movers rename their own files back and forth between two directories (under the
    lock shared with both directories' mutexes, taken in address order) while creators
    make and unlink names in both (each under that directory's mutex): a rename that
    inserted without the target's mutex would race a create for one slot and lose a name.
    Every moved file is in exactly one of the two directories afterwards, with its
    content, nothing else is left, fsck is clean, and the memory comes back."""
    movers = 2
    with start_wasi(preopens={}) as fs:
        fs.mkdir(f"{GUEST_ROOT}/m/b", parents=True)
        fs.mkdir(f"{GUEST_ROOT}/m/a")
        baseline = fs.used_bytes()
        own = {f"mv{n}_{k}" for n in range(movers) for k in range(8)}
        for name in own:
            fs.write_file(f"{GUEST_ROOT}/m/a/{name}", name.encode())
        roles = ["mover"] * movers + ["mcreator"] * 2
        argvs = [[role, GUEST_ROOT, str(n), str(RW_ROLES[role])] for n, role in enumerate(roles)]
        outputs = run_each(stress_rw, fs.init_obj(), argvs)
        assert [line.split()[0] for line in outputs] == roles
        assert fs.fsck() == 0
        in_a, in_b = set(fs.listdir(f"{GUEST_ROOT}/m/a")), set(fs.listdir(f"{GUEST_ROOT}/m/b"))
        assert not in_a & in_b and in_a | in_b == own
        for name in in_a | in_b:
            where = "a" if name in in_a else "b"
            assert fs.read_file(f"{GUEST_ROOT}/m/{where}/{name}") == name.encode()
            fs.remove(f"{GUEST_ROOT}/m/{where}/{name}")
        assert fs.used_bytes() - baseline < 16384


# -- the check itself can fail -----------------------------------------------------------------
Corruption = Callable[[Tree, list[Report]], object]


@pytest.fixture(scope="module")
def stress_rw(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("stress_rw")


RW_ROLES = {"writer": 1500, "churn": 400, "reader": 800, "relinker": 1500, "opener": 3000,
            "creator": 4000, "lister": 400, "renamer": 3000, "watcher": 3000,
            "appender": 10000, "truncator": 2000, "bigreader": 60000,
            "mover": 20000, "mcreator": 20000, "holefiller": 300,
            "holereader": 60000, "grower": 20, "growreader": 60000}  # fmt: skip


def rw_roles_on(stress_rw: Path, roles: list[str], name: str, initial: bytes) -> bytes:
    """Runs stress_rw's roles (each its own program and thread) in GUEST_ROOT, with
    GUEST_ROOT/name holding initial first: each must finish, and fsck find nothing after.
    Returns the file's bytes at the end."""
    with start_wasi(preopens={}) as fs:
        fs.mkdir(GUEST_ROOT)
        fs.write_file(f"{GUEST_ROOT}/{name}", initial)
        argvs = [[role, GUEST_ROOT, str(n), str(RW_ROLES[role])] for n, role in enumerate(roles)]
        outputs = run_each(stress_rw, fs.init_obj(), argvs)
        assert [line.split()[0] for line in outputs] == roles
        assert fs.fsck() == 0
        return fs.read_file(f"{GUEST_ROOT}/{name}")


@pytest.mark.parametrize("writers", [1, 2])
def test_readers_never_see_bytes_that_were_not_written(stress_rw: Path, writers: int) -> None:
    """Writers fill holes, cross chunk edges and append to one file under the lock held
    shared (one writer: the file is still open in the readers, so the data mutex is taken;
    two: they also race each other), while churn frees chunks full of 0xCD and readers
    pread the file: every byte a reader sees is 0 or 0xAB, never another file's freed data
    (filedata.c zeroes a chunk before a reader can reach it). Then fsck, and the file
    itself holds only those two bytes."""
    roles = ["writer"] * writers + ["churn", "reader", "reader"]
    assert set(rw_roles_on(stress_rw, roles, "shared", b"")) <= {0, 0xAB}


def test_a_chunk_written_whole_inside_the_size_is_zeroed_first(stress_rw: Path) -> None:
    """A write that covers a new chunk whole skips zeroing it only past the file's size,
    where no reader reads (filedata.c commit). Inside the size (a hole ftruncate made) a
    reader may read the chunk between its placing and the copy, so it is zeroed first:
    readers of the holes never see the 0xCD a scratch file left in the freed chunks. With
    the zeroing skipped there too, the reader saw 0xCD in 3 runs of 3."""
    roles = ["holefiller", "holereader", "holereader"]
    assert rw_roles_on(stress_rw, roles, "holes", b"") == b"\xab" * (256 << 10)


def test_a_chunk_appended_whole_is_read_only_once_written(stress_rw: Path) -> None:
    """A chunk an append covers whole lies past the size, so it is placed unzeroed, and
    the size moves past it only after its bytes, with a release store (filedata.c
    file_write_prepared): readers at the end of the growing file never see the 0xCD the
    grower's scratch file left in the freed chunks. With the size moved before the copy,
    the reader saw 0xCD in 3 runs of 3."""
    roles = ["grower", "growreader", "growreader"]
    assert rw_roles_on(stress_rw, roles, "grow", b"") == b"\xab" * (2 << 20)


def test_files_die_while_others_open_and_close_them(stress_rw: Path) -> None:
    """Openers open, read and close four files read-only (under the lock shared) while a
    relinker unlinks them or renames new files over them: every byte read is one that was
    written, fsck is clean (open counts match the fds), and once the files are removed the
    memory is back to what it was (an inode whose last close was missed would keep its
    chunks: each file holds at least one)."""
    with start_wasi(preopens={}) as fs:
        fs.mkdir(GUEST_ROOT)
        baseline = fs.used_bytes()
        for k in range(4):  # there from the start: an opener may run before the relinker
            fs.write_file(f"{GUEST_ROOT}/f{k}", b"\xab" * 1000)
        roles = ["relinker", "opener", "opener"]
        argvs = [[role, GUEST_ROOT, str(n), str(RW_ROLES[role])] for n, role in enumerate(roles)]
        outputs = run_each(stress_rw, fs.init_obj(), argvs)
        assert int(outputs[1].split()[2]) > 0 and int(outputs[2].split()[2]) > 0  # files opened
        assert fs.fsck() == 0
        for name in fs.listdir(GUEST_ROOT):
            fs.remove(f"{GUEST_ROOT}/{name}")
        assert fs.used_bytes() - baseline < 16384, "an unlinked file's memory was never freed"


def test_creators_and_listers_share_a_directory(stress_rw: Path) -> None:
    """Creators make and unlink names in one directory (under the lock shared, in turn by
    the directory's mutex) while listers list it and stat what they list: no name but
    those made is ever listed (a torn entry would show), fsck is clean, and once the names
    are removed the memory is back (unlinked entries and files are reclaimed)."""
    with start_wasi(preopens={}) as fs:
        fs.mkdir(f"{GUEST_ROOT}/d", parents=True)
        baseline = fs.used_bytes()
        for k in range(0, 16, 2):  # names to list even before the creators start
            fs.write_file(f"{GUEST_ROOT}/d/c{k}", b"x")
        roles = ["creator", "creator", "lister", "lister"]
        argvs = [[role, GUEST_ROOT, str(n), str(RW_ROLES[role])] for n, role in enumerate(roles)]
        outputs = run_each(stress_rw, fs.init_obj(), argvs)
        assert all(int(line.split()[2]) > 0 for line in outputs)  # files made, names seen
        assert fs.fsck() == 0
        for name in fs.listdir(f"{GUEST_ROOT}/d"):
            fs.remove(f"{GUEST_ROOT}/d/{name}")
        assert fs.used_bytes() - baseline < 16384


def test_a_file_renamed_over_another_is_never_missing(stress_rw: Path) -> None:
    """Renamers write a record into their own temporary file and rename it over one final
    name in the same directory (under the lock shared, in turn by the directory's mutex),
    while watchers stat, open and read that name and list the directory: the name is never
    missing (a rename replaces a file at one moment, as POSIX requires), what is read is
    always one whole record, fsck is clean, and once the names are removed the memory is
    back (the replaced files and their entries are reclaimed)."""
    with start_wasi(preopens={}) as fs:
        fs.mkdir(f"{GUEST_ROOT}/r", parents=True)
        baseline = fs.used_bytes()
        fs.write_file(f"{GUEST_ROOT}/r/final", b"renamer 9 0".ljust(64))
        roles = ["renamer", "renamer", "watcher", "watcher"]
        argvs = [[role, GUEST_ROOT, str(n), str(RW_ROLES[role])] for n, role in enumerate(roles)]
        outputs = run_each(stress_rw, fs.init_obj(), argvs)
        assert [line.split()[0] for line in outputs] == roles
        assert fs.fsck() == 0
        assert fs.read_file(f"{GUEST_ROOT}/r/final").startswith(b"renamer ")
        for name in fs.listdir(f"{GUEST_ROOT}/r"):
            fs.remove(f"{GUEST_ROOT}/r/{name}")
        assert fs.used_bytes() - baseline < 16384


def test_the_check_notices_what_is_wrong(stress_ops: Path) -> None:
    with start_wasi(preopens={}) as fs:
        preopens = {GUEST_ROOT: GUEST_ROOT}
        assert fs.run(stress_ops, ["setup", GUEST_ROOT], preopens=preopens).exit_code == 0
        reports = []
        for number in range(2):  # one after the other: the same checks apply
            args = ["all", GUEST_ROOT, str(number), "2", "1500"]
            result = fs.run(stress_ops, args, preopens=preopens)
            assert result.exit_code == 0, result.stderr
            reports.append(parse_report(result.stdout.decode()))
        tree = walk(fs)
        assert check_tree(tree, reports) == []

        content = sorted(p for p in tree.files if re.search(r"/f\d+_\d+$", p))
        kept = next(p for p in content if p.startswith("keep/"))
        moved = next(p for p in content if p[0] in "abc")
        link = next(p for p in tree.files if p.startswith("l/o"))
        in_r = next(p for p in tree.files if p.startswith("r/"))
        data = tree.files[kept].data
        twice = f"{'b' if moved.startswith('a/') else 'a'}/{moved.rsplit('/', 1)[-1]}"

        def changed(path: str, **fields: Any) -> Corruption:
            return lambda t, _: t.files.update({path: replace(t.files[path], **fields)})

        corruptions: dict[str, Corruption] = {
            "a byte changed": changed(kept, data=data[:-1] + bytes([data[-1] ^ 1])),
            "a byte more": changed(kept, data=data + b"x"),
            "a link count off": changed(link, nlink=tree.files[link].nlink + 1),
            "a file lost": lambda t, _: t.files.pop(moved),
            "a file twice": lambda t, _: t.files.update({twice: t.files[moved]}),
            "a kept file moved": lambda t, _: t.files.update({f"a/{kept[5:]}": t.files.pop(kept)}),
            "an unreported file": lambda t, _: t.files.update({"a/f0_9999": t.files[kept]}),
            "a stray file": lambda t, _: t.files.update({"x/box0/t0": t.files[kept]}),
            "a stray directory": lambda t, _: t.dirs.add("x/box0/s0"),
            "a removed file back": lambda _, r: r[0].removed.pop(),
            "a link lost": lambda t, _: t.files.pop(link),
            "a name in r/ lost": lambda t, _: t.files.pop(in_r),
            "a listed name never made": lambda _, r: r[0].listed.update({1: 10**6}),
        }  # fmt: skip
        for what, corrupt in corruptions.items():
            broken = Tree(dict(tree.files), set(tree.dirs))
            broken_reports = [replace(r, removed=list(r.removed), listed=dict(r.listed))
                              for r in reports]  # fmt: skip
            corrupt(broken, broken_reports)
            assert check_tree(broken, broken_reports) != [], what

        # And through the filesystem: a file overwritten after the run is noticed.
        fs.write_file(f"{GUEST_ROOT}/{moved}", tree.files[moved].data[::-1] + b"!")
        assert any(moved in problem for problem in check_tree(walk(fs), reports))
        assert fs.fsck() == 0


def test_a_malformed_report_is_refused() -> None:
    with pytest.raises(AssertionError):
        parse_report("closed keep/f0_0 10 0000abcd\n")  # no done line: the program died
    with pytest.raises(AssertionError):
        parse_report("what is this\ndone all 0 t0=1 t1=2 files=0\n")
    report = parse_report("closed keep/f0_0 10 0000abcd\ndone all 0 t0=1 t1=2 files=1\n")
    assert report.closed == {"keep/f0_0": (10, 0xABCD)} and report.counts == {"files": 1}


# -- the same through the JS loader, in Node worker_threads ------------------------------------
def _node(engine_name: str) -> str:
    from test_js import ENGINES  # noqa: PLC0415 - the JS suite's engine discovery

    return ENGINES[engine_name].require()  # skips, saying why, if that Node is missing


@pytest.mark.parametrize("engine_name", ["node20", "node24"])
def test_node_worker_threads(engine_name: str, stress_ops: Path, tmp_path: Path) -> None:
    node = _node(engine_name)
    threads, iterations = 4, 4000
    out = tmp_path / "outcome.json"
    result = subprocess.run(
        [node, str(ROOT / "tests" / "js" / "stress_ops.mjs"), str(ROOT / "wasi.mjs"),
         str(stress_ops), "all", str(threads), str(iterations), str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    raw: dict[str, Any] = json.loads(out.read_text())
    failures = [f"worker {n}: exit {o['code']}: {o['stderr'][-2000:]}"
                for n, o in enumerate(raw["outputs"]) if o["code"] != 0]  # fmt: skip
    assert failures == []
    reports = [parse_report(o["stdout"]) for o in raw["outputs"]]
    tree = Tree(
        {path: File(base64.b64decode(f["data"]), int(f["ino"]), f["nlink"])
         for path, f in raw["files"].items()},
        set(raw["dirs"]),
    )  # fmt: skip
    assert_healthy(Outcome(reports, tree, raw["fsck"]), threads, {
        "dir_rename_ok": 1, "rmdir_ok": 5, "lists": 20, "link_ok": 20, "box_create_ok": 20,
    })  # fmt: skip
