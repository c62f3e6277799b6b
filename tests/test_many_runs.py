"""A long-lived Wasi that runs many programs, and the preopened directories the core creates.

``Wasi.run`` gives each program a Store of its own on the shared memory, dropped when the
program ends: a Store holds at most 10,000 instances and keeps a program's memory until it
is dropped, so running every program in the Wasi's own Store failed after ~3,300 runs and
grew with each. ``wasi_wasm_preopen`` creates missing preopen directories (``mkdir -p``)
itself, and leaves the filesystem as it was when it fails."""

from __future__ import annotations

import errno
import gc
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

from wasi_wasm import Wasi, load_program, run, run_pipeline, start_wasi

RUNS = 10_000
WARM_UP = 500  # runs before the baseline: caches, the allocator's slabs, Python's arenas
MAX_USED_GROWTH = 64 * 1024  # the file's own 10,000 bytes (its first chunk grows to 16 KiB)
MAX_RSS_GROWTH = 48 << 20  # one program's memory alone is >= 128 KiB: 9,500 leaks >= 1.2 GiB


@pytest.fixture(scope="module")
def tool(wasm_program: Callable[..., Path]) -> wasmtime.Module:
    module, _name = load_program(wasm_program("api_tool"))
    return module


def _rss() -> int | None:
    """Resident set size in bytes (None where /proc is missing)."""
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def test_ten_thousand_runs_on_one_wasi(tool: wasmtime.Module) -> None:
    """Each run appends to one file: the runs share the filesystem, every one of 10,000
    succeeds, and neither the core's allocations nor the process's memory grow with them."""
    with start_wasi() as wasi:
        wasi.mkdir("/data")

        def run_once() -> None:
            result = wasi.run(tool, ["append", "/data/log", "x"], preopens={"/data": "/data"})
            assert result.exit_code == 0, result.stdout

        for _ in range(WARM_UP):
            run_once()
        gc.collect()
        used_before, rss_before = wasi.used_bytes(), _rss()
        started = time.perf_counter()
        for _ in range(RUNS - WARM_UP):
            run_once()
        elapsed = time.perf_counter() - started
        gc.collect()
        used_growth = wasi.used_bytes() - used_before
        rss_after = _rss()

        assert wasi.read_file("/data/log") == b"x" * RUNS
        # Each program sees what the ones before it wrote.
        assert wasi.run(tool, ["read", "/data/log"]).stdout == b"x" * RUNS
        assert used_growth <= MAX_USED_GROWTH, used_growth
        if rss_before is not None and rss_after is not None:
            assert rss_after - rss_before < MAX_RSS_GROWTH, (rss_before, rss_after)
        assert wasi.fsck() == 0
        # The Wasi's own Store is as empty as before: the user's own instances still fit.
        other = wasi.copy_for_rebinding(args=["api_tool", "read", "/data/log"])
        with other:
            instance = wasmtime.Instance(other.store, tool, other.imports_for(tool))
            assert other.start(instance) == 0
            assert other.stdout == b"x" * RUNS
        each = elapsed / (RUNS - WARM_UP)
        print(f"{RUNS - WARM_UP} runs in {elapsed:.1f} s ({each * 1e6:.0f} us each)")


def test_runs_with_a_fresh_filesystem_leave_nothing_behind(tool: wasmtime.Module) -> None:
    """run() without wasi= gets a fresh filesystem (memory and Store) each time."""
    for _ in range(50):
        assert run(tool, ["write", "/f", "x"]).exit_code == 0
    gc.collect()
    before = _rss()
    for _ in range(500):
        assert run(tool, ["write", "/f", "x"]).exit_code == 0
    gc.collect()
    after = _rss()
    if before is not None and after is not None:
        assert after - before < MAX_RSS_GROWTH, (before, after)


@pytest.mark.parametrize(("sequential", "count"), [(True, 1_800), (False, 150)])
def test_many_pipelines_on_one_wasi(tool: wasmtime.Module, sequential: bool, count: int) -> None:
    """A sequential pipeline runs its programs one after another on the Wasi (1,800 x 2
    programs would be ~10,800 instances in one Store); a concurrent one, in threads with
    Stores of their own, through pipes the Wasi makes."""
    commands = [(tool, ["cat"]), (tool, ["append", "/log", "+"])]
    with start_wasi() as wasi:
        used_before = wasi.used_bytes()
        for index in range(count):
            result = run_pipeline(commands, stdin=b"%d" % index, wasi=wasi, sequential=sequential)
            assert result.exit_codes == (0, 0)
        assert wasi.read_file("/log") == b"+" * count
        assert wasi.used_bytes() - used_before <= MAX_USED_GROWTH
        assert wasi.fsck() == 0


def test_a_deadline_set_on_the_wasi_store_interrupts_its_runs(tool: wasmtime.Module) -> None:
    """A run's Store follows ``wasi.store``'s epoch deadline, also one set while it runs,
    and an interrupt lifts it for the next run, as when the runs shared ``wasi.store``."""
    with start_wasi() as wasi:
        lines: list[bytes] = []

        def output(data: bytes) -> None:
            lines.append(data)
            if len(lines) == 1:  # the program is running: ask for it to stop
                wasi.store.set_epoch_deadline(1)
                wasi.engine.increment_epoch()
                wasi.engine.increment_epoch()

        with pytest.raises(wasmtime.Trap) as trapped:
            wasi.run(tool, ["lines", "1000000"], stdout=output)
        assert trapped.value.trap_code == wasmtime.TrapCode.INTERRUPT
        assert 0 < len(lines) < 1000
        assert wasi.store.deadline is None  # lifted, as for a program run in this store
        assert wasi.run(tool, ["lines", "3"]).stdout == b"line 0\nline 1\nline 2\n"

        # A deadline set before the run (its ticks count from the program's start).
        def tick(_data: bytes) -> None:
            wasi.engine.increment_epoch()

        wasi.store.set_epoch_deadline(2)
        with pytest.raises(wasmtime.Trap) as trapped:
            wasi.run(tool, ["lines", "1000000"], stdout=tick)
        assert trapped.value.trap_code == wasmtime.TrapCode.INTERRUPT
        assert wasi.run(tool, ["lines", "1"]).stdout == b"line 0\n"
        assert wasi.fsck() == 0


# -- preopen directories ----------------------------------------------------------------------
def _snapshot(wasi: Wasi) -> tuple[tuple[object, ...], int]:
    """Everything a failed preopen could have changed: the tree, times, allocations."""
    tree = []
    pending = ["/"]
    while pending:
        path = pending.pop()
        info = wasi.lstat(path)
        tree.append((path, info.filetype, info.size, info.mtime_ns, info.ctime_ns, info.nlink))
        if info.is_dir:
            pending += [f"{path.rstrip('/')}/{name}" for name in wasi.listdir(path)]
    return tuple(sorted(tree)), wasi.used_bytes()


@pytest.fixture
def fs() -> Wasi:
    wasi = start_wasi()
    wasi.write_file("/file", b"a regular file")
    wasi.mkdir("/dir/sub", parents=True)
    wasi.symlink("nowhere", "/dangling")
    wasi.symlink("dir", "/to-dir")
    return wasi


@pytest.mark.parametrize(
    ("vfs_path", "error", "number"),
    [
        ("/file", NotADirectoryError, errno.ENOTDIR),
        ("/file/sub", NotADirectoryError, errno.ENOTDIR),
        ("/file/a/b", NotADirectoryError, errno.ENOTDIR),
        ("/dir/sub/../../file/new", NotADirectoryError, errno.ENOTDIR),
        # Created first, then the walk reaches a file: what was created is removed again.
        ("/new/deeper/../../file/x", NotADirectoryError, errno.ENOTDIR),
        ("/dangling", FileExistsError, errno.EEXIST),  # as mkdir -p says
        ("/dangling/below", FileExistsError, errno.EEXIST),
        ("/.." + "/x", PermissionError, errno.EPERM),
        ("/" + "a/" * 2100, OSError, errno.ENAMETOOLONG),  # 4,201 bytes > max_path 4,095
        ("/ok/" + "n" * 256, OSError, errno.ENAMETOOLONG),  # a name > 255 bytes, at the end
        ("/ok/bad\udcff/x", OSError, errno.EILSEQ),  # not UTF-8
        ("/ok/nul\0/x", OSError, errno.EINVAL),
    ],
)
def test_a_preopen_that_cannot_be_created_changes_nothing(
    fs: Wasi, tool: wasmtime.Module, vfs_path: str, error: type[OSError], number: int
) -> None:
    with fs:
        tree, _used = _snapshot(fs)
        with pytest.raises(error) as raised:
            start_wasi(fs.init_obj(), preopens={"/p": vfs_path})
        assert raised.value.errno == number
        assert raised.value.filename == vfs_path
        # The same tree, times included. (A directory that had an entry added and removed
        # again may keep its grown entry table: used_bytes is compared from here on.)
        after_first = _snapshot(fs)
        assert after_first[0] == tree
        with pytest.raises(error):
            fs.run(tool, ["preopens"], preopens={"/p": vfs_path})
        assert _snapshot(fs) == after_first
        assert not fs.exists("/new") and not fs.exists("/ok")
        assert fs.fsck() == 0


def test_preopens_create_missing_directories_like_mkdir_p(fs: Wasi, tool: wasmtime.Module) -> None:
    with fs:
        root_mtime = fs.stat("/").mtime_ns
        result = fs.run(tool, ["write", "/p/f", "made"], preopens={"/p": "/a/b/c"})
        assert result.exit_code == 0
        assert fs.read_file("/a/b/c/f") == b"made"
        assert fs.stat("/").mtime_ns >= root_mtime
        # Through a symlink to a directory (followed inside the filesystem), with "." and "..".
        linked = fs.run(tool, ["write", "/q/g", "linked"], preopens={"/q": "/to-dir/./x/../y//"})
        assert linked.exit_code == 0
        assert fs.read_file("/dir/y/g") == b"linked"
        assert fs.is_dir("/dir/x")  # as mkdir -p creates it
        # An existing directory is used as it is.
        assert fs.run(tool, ["read", "/p/f"], preopens={"/p": "/a/b/c"}).stdout == b"made"
        assert fs.fsck() == 0


@pytest.mark.parametrize("vfs_path", ["relative", b"/bytes"])
def test_preopen_paths_are_absolute_strings(vfs_path: object) -> None:
    with start_wasi() as wasi:
        expected = ValueError if isinstance(vfs_path, str) else TypeError
        with pytest.raises(expected):
            start_wasi(wasi.init_obj(), preopens={"/p": vfs_path})  # type: ignore[dict-item]
        assert wasi.listdir("/") == []
