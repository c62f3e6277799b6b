"""The host API holds against what a hostile guest leaves in the VFS (issue 12): copy-out never
leaves its target, walks of any depth, bounded memory for any file size, a full filesystem
written back, and host-API writes that are all or nothing."""

from __future__ import annotations

import errno
import os
import stat
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import wasi_wasm
from cli_run import cli
from host_tree import Snapshot, snapshot_fd
from wasi_wasm import Limits, Wasi, _fs

DEPTH = 1500  # deeper than Python's stack, and (with 3-byte names) than any VFS or host path
TIB = 1 << 40


# -- host trees of any depth, through directory fds only -------------------------------------
def _open_dir(name: str | bytes | Path, parent: int | None = None) -> int:
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)


def _read_at(fd: int, name: bytes) -> bytes:
    file = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
    try:
        return os.read(file, 1 << 20)
    finally:
        os.close(file)


def snapshot(root: Path) -> Snapshot:
    """Every name below ``root`` with its kind and bytes (never following a symlink)."""
    root_fd = _open_dir(root)
    try:
        return snapshot_fd(root_fd, lambda fd, name, _info: _read_at(fd, name))
    finally:
        os.close(root_fd)


def make_chain(root: Path, levels: int, name: bytes) -> None:
    """``levels`` nested directories ``name`` below ``root``, "bottom.txt" in the last."""
    fd = _open_dir(root)
    try:
        for _ in range(levels):
            os.mkdir(name, dir_fd=fd)
            child = _open_dir(name, fd)
            os.close(fd)
            fd = child
        out = os.open(b"bottom.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(out, b"deep")
        os.close(out)
    finally:
        os.close(fd)


def chain_of(levels: int, name: bytes) -> Snapshot:
    """The snapshot that make_chain gives."""
    expected: Snapshot = {
        (name,) * n: ("dir", b"") for n in range(1, 1 + levels)
    }
    expected[(name,) * levels + (b"bottom.txt",)] = ("file", b"deep")
    return expected


def remove_tree(root: Path) -> None:
    """Empty ``root``: shutil.rmtree recurses (Python 3.11), so a deep test tree is removed
    here, one directory fd per level."""
    stack = [(b"", _open_dir(root))]
    while stack:
        fd = stack[-1][1]
        entries = [os.fsencode(entry) for entry in os.listdir(fd)]
        subdirs = [e for e in entries if stat.S_ISDIR(os.lstat(e, dir_fd=fd).st_mode)]
        for entry in set(entries) - set(subdirs):
            os.unlink(entry, dir_fd=fd)
        if subdirs:
            stack.append((subdirs[0], _open_dir(subdirs[0], fd)))
            continue
        name = stack.pop()[0]
        os.close(fd)
        if stack:
            os.rmdir(name, dir_fd=stack[-1][1])


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    remove_tree(tmp_path)


@pytest.fixture(scope="module")
def tool(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("host_safety_tool")


def run_tool(fs: Wasi, tool: Path, *args: str, box: str = "/box") -> None:
    fs.mkdir(box, exist_ok=True)
    result = fs.run(tool, list(args), preopens={box: box})
    assert result.exit_code == 0, result.stdout.decode()


def _nested_project(host: Path) -> tuple[Path, Path, Snapshot]:
    """proj/ (with proj/sub/) and a sibling victim/ that no copy-out may touch."""
    proj, victim = host / "proj", host / "victim"
    (proj / "sub").mkdir(parents=True)
    (proj / "top.txt").write_bytes(b"top")
    (proj / "sub" / "s.txt").write_bytes(b"sub")
    (victim / "keep").mkdir(parents=True)
    (victim / "v.txt").write_bytes(b"precious")
    (victim / "keep" / "deeper.txt").write_bytes(b"also precious")
    return proj, victim, snapshot(victim)


# -- 1. copy-out never leaves its target -----------------------------------------------------
def test_nested_copy_outs_never_follow_a_symlink_the_guest_planted(host: Path) -> None:
    """Two nested trees (proj at /a, proj/sub at /b); the guest turns /a/sub into a symlink
    to ../victim and writes /b/pwned.txt. Copying /a out writes proj/sub as that symlink,
    verbatim; copying /b out into proj/sub is then refused (its target is a symlink) before
    anything changes: victim/ keeps every name and byte, and nothing appears outside proj/."""
    proj, victim, before = _nested_project(host)
    with wasi_wasm.start_wasi(preopens={}) as fs:
        fs.copy_in_tree(proj, "/a")
        fs.copy_in_tree(proj / "sub", "/b")
        fs.rmtree("/a/sub")  # what the guest does, through the host API
        fs.symlink("../victim", "/a/sub")
        fs.write_file("/b/pwned.txt", b"pwned")
        fs.copy_out_tree("/a", proj, delete=True)
        assert os.readlink(proj / "sub") == "../victim"
        assert snapshot(victim) == before
        with pytest.raises(OSError, match="symlink") as refused:
            fs.copy_out_tree("/b", proj / "sub", delete=True)
        assert refused.value.errno == errno.ELOOP
        assert refused.value.filename == str(proj / "sub")
    assert snapshot(victim) == before
    assert sorted(os.listdir(host)) == ["proj", "victim"]
    assert os.readlink(proj / "sub") == "../victim"


def test_write_back_of_nested_dirs_cannot_reach_outside(host: Path, tool: Path) -> None:
    """The same attack by a real guest through `wasi-wasm run --write-back`: the second
    write-back (into the directory the first one replaced) is refused with one line, and
    victim/ is untouched."""
    proj, victim, before = _nested_project(host)
    result = cli("run", "--write-back", "--dir", f"{proj}::/a", "--dir", f"{proj / 'sub'}::/b",
                 tool, "--", "swap", "/a/sub", "../victim", "/b")  # fmt: skip
    assert result.returncode != 0
    assert b"is gone" in result.stderr and b"Traceback" not in result.stderr
    assert result.stderr.count(b"\n") == 1
    assert snapshot(victim) == before
    assert sorted(os.listdir(host)) == ["proj", "victim"]


def test_a_refused_write_back_names_an_odd_directory_in_one_line(host: Path, tool: Path) -> None:
    """The host fuzzer's example: the inner --dir's name holds a newline; the refusal of its
    write-back (the outer one replaced it) still is one line, the name escaped."""
    proj, victim = host / "proj", host / "victim"
    inner = proj / "t\n"
    inner.mkdir(parents=True)
    (inner / "s.txt").write_bytes(b"sub")
    victim.mkdir()
    before = snapshot(victim)
    result = cli("run", "--write-back", "--dir", f"{proj}::/a", "--dir", f"{inner}::/b",
                 tool, "--", "swap", "/a/t\n", "../victim", "/b")  # fmt: skip
    assert result.returncode != 0
    assert b"is gone" in result.stderr and b"t\\n" in result.stderr, result.stderr
    assert result.stderr.count(b"\n") == 1
    assert snapshot(victim) == before


def test_write_back_of_a_tree_two_levels_down_cannot_reach_outside(
    host: Path, wasm_program: Callable[..., Path]
) -> None:
    """The fuzzer's minimal example: --dir proj::/a --dir proj/sub/deep::/c, and the guest
    replaces /a/sub by a symlink to ../victim. Writing /a back makes proj/sub that symlink;
    writing /c back to the path proj/sub/deep then goes through it, into victim/deep (its
    d.txt deleted, pwned.txt written). victim/ must keep every name and byte."""
    proj, victim, _ = _nested_project(host)
    (proj / "sub" / "deep").mkdir()
    (victim / "deep").mkdir()
    (victim / "deep" / "d.txt").write_bytes(b"precious too")
    before = snapshot(victim)
    guest = wasm_program("host_fuzz_guest")
    result = cli("run", "--write-back", "--dir", f"{proj}::/a",
                 "--dir", f"{proj / 'sub' / 'deep'}::/c", guest, "--",
                 "swap", "/a/sub", "../victim", "write", "/c/pwned.txt", "pwned")  # fmt: skip
    assert b"Traceback" not in result.stderr
    assert snapshot(victim) == before
    assert sorted(os.listdir(host)) == ["proj", "victim"]


def test_targets_opened_before_the_run_cannot_be_redirected(host: Path) -> None:
    """A path's ancestors are resolved as given, so for three nested trees the caller opens
    each target first and passes the fd: a later copy-out then writes into the directory it
    opened (here one the earlier copy-out removed: an error), never into victim/."""
    proj, victim, before = _nested_project(host)
    (proj / "sub" / "deep").mkdir()
    fds = [os.open(proj, os.O_RDONLY | os.O_DIRECTORY),
           os.open(proj / "sub" / "deep", os.O_RDONLY | os.O_DIRECTORY)]  # fmt: skip
    try:
        with wasi_wasm.start_wasi(preopens={}) as fs:
            fs.copy_in_tree(proj, "/a")
            fs.copy_in_tree(proj / "sub" / "deep", "/c")
            fs.rmtree("/a/sub")
            fs.symlink("../victim", "/a/sub")
            fs.write_file("/c/pwned.txt", b"pwned")
            fs.copy_out_tree("/a", fds[0], delete=True)
            with pytest.raises(FileNotFoundError):
                fs.copy_out_tree("/c", fds[1], delete=True)
    finally:
        for fd in fds:
            os.close(fd)
    assert snapshot(victim) == before
    assert sorted(os.listdir(host)) == ["proj", "victim"]
    assert os.readlink(proj / "sub") == "../victim"


def test_host_links_are_replaced_never_written_through(host: Path) -> None:
    """A host symlink where the VFS has a directory is replaced by a directory, and files are
    made under a temporary name and renamed over the old one: a hard link to a file outside
    the target is not written through, and the old file's mode is kept."""
    proj, outside = host / "proj", host / "outside"
    proj.mkdir()
    outside.mkdir()
    (outside / "file.txt").write_bytes(b"must not change")
    os.link(outside / "file.txt", proj / "linked.txt")
    (proj / "dir").symlink_to("../outside")
    (proj / "run.sh").write_bytes(b"old")
    (proj / "run.sh").chmod(0o751)
    before = snapshot(outside)
    with wasi_wasm.start_wasi(preopens={}) as fs:
        fs.mkdir("/p/dir", parents=True)
        fs.write_file("/p/dir/file.txt", b"new")
        fs.write_file("/p/linked.txt", b"new")
        fs.write_file("/p/run.sh", b"#!/bin/sh\n")
        fs.copy_out_tree("/p", proj, delete=True)
    assert snapshot(outside) == before
    assert snapshot(proj) == {
        (b"dir",): ("dir", b""),
        (b"dir", b"file.txt"): ("file", b"new"),
        (b"linked.txt",): ("file", b"new"),
        (b"run.sh",): ("file", b"#!/bin/sh\n"),
    }
    assert stat.S_IMODE((proj / "run.sh").stat().st_mode) == 0o751


def test_copy_out_streams_and_keeps_holes(host: Path, tool: Path) -> None:
    """A 256 MiB sparse file with 4 bytes of data copies out as a sparse host file, through
    bounded Python memory."""
    size, offset = 256 << 20, 200 << 20
    with wasi_wasm.start_wasi(preopens={}) as fs:
        run_tool(fs, tool, "sparse", "/box/sparse", str(size), str(offset), "tail")
        tracemalloc.start()
        try:
            fs.copy_out_tree("/box", host / "out")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    copied = host / "out" / "sparse"
    assert peak < 8 << 20
    assert copied.stat().st_size == size
    assert copied.stat().st_blocks * 512 < 8 << 20
    with copied.open("rb") as data:
        assert data.read(1 << 20) == bytes(1 << 20)
        data.seek(offset)
        assert data.read(8) == b"tail\0\0\0\0"


def test_files_over_the_maximum_are_refused_before_the_host_changes(host: Path, tool: Path) -> None:
    """A guest's 1 TiB sparse file (a few bytes of the VFS budget) is refused, naming it and
    its size, before anything is written; so is a file over a caller's max_file_size."""
    target = host / "out"
    target.mkdir()
    (target / "stale").write_bytes(b"old")
    with wasi_wasm.start_wasi(preopens={}) as fs:
        fs.mkdir("/box")
        fs.write_file("/box/a-first.txt", b"small")
        fs.write_file("/box/eleven.txt", b"x" * 11)
        with pytest.raises(OSError) as small:
            fs.copy_out_tree("/box", target, delete=True, max_file_size=10)
        assert small.value.errno == errno.EFBIG
        assert isinstance(small.value, _fs.FileTooLargeError)
        assert small.value.filename == "/box/eleven.txt"
        fs.mkdir("/box/z")
        run_tool(fs, tool, "sparse", "/box/z/huge", str(TIB), "0", "x")
        with pytest.raises(OSError, match=str(TIB)) as huge:
            fs.copy_out_tree("/box", target, delete=True)
        assert huge.value.errno == errno.EFBIG
        assert huge.value.filename == "/box/z/huge"
        with pytest.raises(OSError):
            fs.copy_out_tree("/box", host / "fresh")
    assert snapshot(target) == {(b"stale",): ("file", b"old")}
    assert not (host / "fresh").exists()


def test_read_file_refuses_a_file_over_max_size(tool: Path) -> None:
    with wasi_wasm.start_wasi(preopens={}) as fs:
        fs.write_file("/eleven", b"x" * 11)
        with pytest.raises(OSError) as failure:
            fs.read_file("/eleven", max_size=10)
        assert failure.value.errno == errno.EFBIG
        assert failure.value.filename == "/eleven"
        assert fs.read_file("/eleven", max_size=11) == b"x" * 11
        run_tool(fs, tool, "sparse", "/box/huge", str(TIB), "0", "x")
        with pytest.raises(OSError, match="max_size") as huge:
            fs.read_file("/box/huge")  # the default (1 GiB) refuses it at once
        assert huge.value.errno == errno.EFBIG


def test_copy_out_mirrors_names_that_are_not_utf8(host: Path) -> None:
    """VFS names are always UTF-8 (the core refuses others) and are written as their bytes;
    a host name that is not UTF-8 cannot be in the VFS, so delete=True removes it (the host
    mirrors the VFS) and delete=False keeps it."""
    latin = b"caf\xe9"
    (host / os.fsdecode(latin)).write_bytes(b"latin-1 name")
    with wasi_wasm.start_wasi(preopens={}) as fs:
        fs.mkdir("/t")
        fs.write_file("/t/café", b"utf-8 name")
        fs.copy_out_tree("/t", host)
        assert sorted(os.listdir(os.fsencode(host))) == sorted([latin, "café".encode()])
        fs.copy_out_tree("/t", host, delete=True)
    assert os.listdir(os.fsencode(host)) == ["café".encode()]


# -- 2. walks of any depth -------------------------------------------------------------------
def test_mkdir_parents_and_rmtree_at_any_depth() -> None:
    deep = "/d" * DEPTH
    with wasi_wasm.start_wasi(preopens={}) as fs:
        fs.mkdir(deep, parents=True)
        fs.write_file(deep + "/f", b"bottom")
        fs.mkdir(deep, parents=True, exist_ok=True)
        fs.rmtree("/d")
        assert fs.listdir("/") == []
        assert fs.fsck() == 0


def test_mkdir_parents_changes_nothing_when_it_fails() -> None:
    with wasi_wasm.start_wasi(preopens={}, limits=Limits(max_name=8)) as fs:
        with pytest.raises(OSError) as failure:
            fs.mkdir("/a/b/c/" + "n" * 9, parents=True)
        assert failure.value.errno == errno.ENAMETOOLONG
        assert fs.listdir("/") == []


def test_a_tree_deeper_than_any_path_copies_out_and_is_removed(host: Path, tool: Path) -> None:
    """A guest makes 1500 levels one directory fd at a time (6000 bytes of path: more than
    the core's path limit and the host's PATH_MAX)."""
    with wasi_wasm.start_wasi(preopens={}) as fs:
        run_tool(fs, tool, "deep", "/box", str(DEPTH), "dir")
        fs.copy_out_tree("/box", host / "out")
        assert snapshot(host / "out") == chain_of(DEPTH, b"dir")
        fs.rmtree("/box")
        assert fs.listdir("/") == []
        fs.mkdir("/box")
        fs.copy_out_tree("/box", host / "out", delete=True)  # removes the deep host tree
        assert os.listdir(host / "out") == []
        assert fs.fsck() == 0


def test_a_host_tree_deeper_than_path_max_copies_in(host: Path) -> None:
    (host / "in").mkdir()
    make_chain(host / "in", DEPTH, b"dir")
    with wasi_wasm.start_wasi(preopens={}) as fs:
        fs.copy_in_tree(host / "in", "/in")
        fs.copy_out_tree("/in", host / "back")
        fs.rmtree("/in")
        assert fs.fsck() == 0
    assert snapshot(host / "back") == chain_of(DEPTH, b"dir")


def test_walks_fit_a_small_path_limit(host: Path, tool: Path) -> None:
    """The walk measures the filesystem's path limit: with max_path 40 it anchors every few
    levels instead of failing with ENAMETOOLONG."""
    with wasi_wasm.start_wasi(preopens={}, limits=Limits(max_path=40)) as fs:
        run_tool(fs, tool, "deep", "/box", "100", "level")
        fs.copy_out_tree("/box", host / "out")
        assert snapshot(host / "out") == chain_of(100, b"level")
        fs.copy_in_tree(host / "out", "/again")
        fs.rmtree("/box")
        fs.rmtree("/again")
        assert fs.listdir("/") == []
        assert fs.fsck() == 0


# -- 3. a full filesystem can be written back ------------------------------------------------
def test_a_full_filesystem_can_be_written_back(host: Path, tool: Path) -> None:
    with wasi_wasm.start_wasi(preopens={}, limits=Limits(max_fs_bytes=2 << 20)) as fs:
        run_tool(fs, tool, "deep", "/box", "1200", "dir")  # needs anchor fds to walk
        run_tool(fs, tool, "fill", "/box")
        with pytest.raises(OSError) as full:
            fs.write_file("/one-more", b"x" * 100_000)
        assert full.value.errno == errno.ENOSPC
        names = fs.listdir("/box")
        fs.copy_out_tree("/box", host / "out")
        copied = snapshot(host / "out")
        for name in names:
            if name != "dir":
                assert copied[(name.encode(),)] == ("file", fs.read_file("/box/" + name))
        assert copied[(b"dir",) * 1200 + (b"bottom.txt",)] == ("file", b"deep")
        fs.rmtree("/box")
        assert fs.fsck() == 0


# -- 4. host-API writes are all or nothing ---------------------------------------------------
def test_write_file_keeps_the_old_content_when_it_fails() -> None:
    old = bytes(range(256)) * 1200
    with wasi_wasm.start_wasi(preopens={}, limits=Limits(max_fs_bytes=2 << 20)) as fs:
        fs.write_file("/keep", old)
        fs.symlink("keep", "/link")
        for path in ("/keep", "/link"):
            with pytest.raises(OSError) as failure:
                fs.write_file(path, bytes(4 << 20))
            assert failure.value.errno == errno.ENOSPC
            assert failure.value.filename == path
            assert fs.read_file("/keep") == old
        assert sorted(fs.listdir("/")) == ["keep", "link"]  # no temporary file left
        fs.write_file("/link", b"through the link")
        assert fs.readlink("/link") == "keep"
        assert fs.read_file("/keep") == b"through the link"
        assert fs.fsck() == 0


def test_copy_in_refuses_a_bad_tree_before_it_changes_anything(host: Path) -> None:
    """A symlink whose target is not UTF-8 is found before anything is copied, and the
    error names the host path (it used to fail half-way, naming the VFS path)."""
    (host / "a-first").mkdir()
    (host / "a-first" / "ok.txt").write_bytes(b"fine")
    (host / "b").mkdir()
    os.symlink(b"caf\xe9", os.fsencode(host / "b" / "bad-link"))
    with wasi_wasm.start_wasi(preopens={}) as fs:
        with pytest.raises(OSError, match="not valid UTF-8") as failure:
            fs.copy_in_tree(host, "/copied")
        assert failure.value.errno == errno.EILSEQ
        assert failure.value.filename == str(host / "b" / "bad-link")
        assert not fs.exists("/copied")


def test_copy_in_refuses_names_over_the_filesystems_limit(host: Path) -> None:
    (host / "a-first.txt").write_bytes(b"fine")
    (host / ("n" * 20)).write_bytes(b"long name")
    with wasi_wasm.start_wasi(preopens={}, limits=Limits(max_name=16)) as fs:
        with pytest.raises(OSError) as failure:
            fs.copy_in_tree(host, "/copied")
        assert failure.value.errno == errno.ENAMETOOLONG
        assert failure.value.filename == str(host / ("n" * 20))
        assert not fs.exists("/copied")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_copy_in_refuses_an_unreadable_file_before_it_changes_anything(host: Path) -> None:
    (host / "a-first.txt").write_bytes(b"fine")
    (host / "secret").write_bytes(b"mode 000")
    (host / "secret").chmod(0)
    with wasi_wasm.start_wasi(preopens={}) as fs:
        with pytest.raises(PermissionError) as failure:
            fs.copy_in_tree(host, "/copied")
        assert failure.value.filename == str(host / "secret")
        assert not fs.exists("/copied")


def test_copy_in_errors_name_the_host_path(host: Path) -> None:
    """What cannot be checked first (room in the VFS) names the host file, and the VFS path
    as filename2."""
    (host / "big.bin").write_bytes(bytes(2 << 20))
    with wasi_wasm.start_wasi(preopens={}, limits=Limits(max_fs_bytes=1 << 20)) as fs:
        with pytest.raises(OSError) as failure:
            fs.copy_in_tree(host, "/copied")
        assert failure.value.errno == errno.ENOSPC
        assert failure.value.filename == str(host / "big.bin")
        assert failure.value.filename2 == "/copied/big.bin"
        assert fs.listdir("/copied") == []
        assert fs.fsck() == 0


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda fs: fs.set_times("/f", atime_ns=2**64 + 5), ValueError),
        (lambda fs: fs.set_times("/f", mtime_ns=-1), ValueError),
        (lambda fs: fs.set_times("/f", atime_ns=1.5), TypeError),
        (lambda fs: fs.read_file("/f", max_size=-1), ValueError),
        (lambda fs: fs.copy_out_tree("/", "/nonexistent", max_file_size=2**64), ValueError),
        (lambda fs: fs.copy_out_tree("/", "/nonexistent", max_file_size=True), TypeError),
    ],
)  # fmt: skip
def test_values_out_of_range_are_refused_and_change_nothing(
    call: Callable[[Wasi], object], error: type[Exception]
) -> None:
    with wasi_wasm.start_wasi(preopens={}) as fs:
        fs.write_file("/f", b"")
        fs.set_times("/f", atime_ns=1_000, mtime_ns=2_000)
        with pytest.raises(error):
            call(fs)
        assert (fs.stat("/f").atime_ns, fs.stat("/f").mtime_ns) == (1_000, 2_000)
        assert not os.path.exists("/nonexistent")
        fs.set_times("/f", atime_ns=2**64 - 1)  # the largest a WASI timestamp holds
        assert fs.stat("/f").atime_ns == 2**64 - 1
