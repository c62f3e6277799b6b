"""Snapshots of the VFS as tar archives (Wasi.save_tar / Wasi.load_tar): round trips of every
kind of entry, archives made by Python's tarfile and GNU tar read by a guest, snapshots taken
while programs change the tree, hostile archives, and a filesystem shipped to another
process."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from wasi_wasm import FileTooLargeError, Limits, UnsafeArchiveError, start_wasi
from wasi_wasm._fs import READ_RIGHTS, WRITE_RIGHTS, _iovec
from wasi_wasm._wasi import Wasi

T0 = 1_700_000_000_123_456_789  # a time with every nanosecond digit set
T1 = 1_600_000_000_987_654_321
TIMED = ["plain", "empty_file", "dir/deeper/data", "sparse", "ends_in_hole", "dir", "empty"]


def make_tree(w: Wasi, root: str = "/src") -> None:
    """Every kind of entry the VFS has, with times of its own."""
    w.mkdir(f"{root}/dir/deeper", parents=True)
    w.mkdir(f"{root}/empty")
    w.write_file(f"{root}/plain", b"plain text\n")
    w.write_file(f"{root}/empty_file", b"")
    w.write_file(f"{root}/dir/deeper/data", bytes(range(256)) * 1000)
    w.link(f"{root}/plain", f"{root}/dir/hard")
    w.link(f"{root}/plain", f"{root}/dir/deeper/hard2")
    w.symlink("../plain", f"{root}/dir/sym")
    w.symlink("nowhere/at/all", f"{root}/dangling")
    w.symlink("dir", f"{root}/dirlink")
    w.link(f"{root}/dirlink", f"{root}/dir/dirlink_again")  # a symlink with two names
    w.write_file(f"{root}/" + "long-" * 50, b"a long name")  # 250 bytes: past ustar's 100
    w.write_file(f"{root}/ünïcode ✓", b"utf-8")
    # sparse: data at both ends and in the middle of 16 MiB, holes between
    with w_open(w, f"{root}/sparse") as put:
        put(0, b"head")
        put(8 << 20, b"middle" * 20000)
        put((16 << 20) - 4, b"tail")
    with w_open(w, f"{root}/ends_in_hole") as put:
        put(0, b"x")
    w_truncate(w, f"{root}/ends_in_hole", 5 << 20)
    for number, path in enumerate(TIMED):
        w.set_times(f"{root}/{path}", atime_ns=T1 + number, mtime_ns=T0 + number)
    w.set_times(f"{root}/dir/sym", atime_ns=T1, mtime_ns=T0 - 5, follow_symlinks=False)


class w_open:  # noqa: N801 - a context manager used like a function
    """Writes at offsets through the core (holes stay holes)."""

    def __init__(self, w: Wasi, path: str) -> None:
        self.w, self.path = w, path

    def __enter__(self) -> Callable[[int, bytes], None]:
        w = self.w
        self.fd = w.fs._open_at(w.fs._loc(self.path), 1, WRITE_RIGHTS)  # O_CREAT

        def put(offset: int, data: bytes) -> None:
            with w.fs._buffers(len(data), 8, 4) as (process, _root, (buf, iov, out)):
                process.memory.write(buf, data)
                process.memory.write(iov, _iovec(buf, len(data)))
                assert process.call("fd_pwrite", self.fd, iov, 1, offset, out) == 0

        return put

    def __exit__(self, *exc: object) -> None:
        self.w.fs._close(self.fd)


def w_truncate(w: Wasi, path: str, size: int) -> None:
    fd = w.fs._open_at(w.fs._loc(path), 0, WRITE_RIGHTS)
    process, _root = w.fs._vfs_process()
    assert process.call("fd_filestat_set_size", fd, size) == 0
    w.fs._close(fd)


def listing(w: Wasi, root: str) -> dict[str, tuple[object, ...]]:
    """Everything a snapshot keeps of a tree, by path below ``root`` (inode numbers as the
    first path of each inode, so that two trees compare). Not atimes: reading a file or a
    directory sets its atime (a snapshot, too, as any reader)."""
    out: dict[str, tuple[object, ...]] = {}
    first: dict[int, str] = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        for name in sorted(w.listdir(root + rel or "/")):
            path = f"{rel}/{name}"
            info = w.lstat(root + path)
            inode = first.setdefault(info.ino, path)
            if info.is_dir:
                out[path] = ("d", info.mtime_ns)
                stack.append(path)
            elif info.is_symlink:
                out[path] = ("l", w.readlink(root + path), info.mtime_ns, inode, info.nlink)
            else:
                out[path] = ("f", info.size, info.mtime_ns, inode, info.nlink)
    for path, entry in out.items():
        if entry[0] == "f":
            out[path] = (*entry, hash(w.read_file(root + path, max_size=1 << 25)))
    return out


def test_round_trip_keeps_every_kind_of_entry(tmp_path: Path) -> None:
    archive = tmp_path / "snap.tar"
    with start_wasi() as w:
        make_tree(w)
        w.save_tar(archive, "/src")
        expected = listing(w, "/src")
        assert w.fsck() == 0
    assert archive.stat().st_size < 2 << 20  # the 16 MiB and 5 MiB sparse files stay sparse
    with start_wasi() as w:
        before = w.used_bytes()
        w.load_tar(archive, "/restored")
        atimes = [w.lstat(f"/restored/{path}").atime_ns for path in TIMED]
        assert atimes == [T1 + number for number in range(len(TIMED))]
        assert w.lstat("/restored/dir/sym").mtime_ns == T0 - 5
        assert listing(w, "/restored") == expected
        # holes were not written: the sparse files cost about their data
        assert w.used_bytes() - before < 3 << 20
        assert w.read_file("/restored/sparse", max_size=1 << 25)[(16 << 20) - 4 :] == b"tail"
        assert w.stat("/restored/ends_in_hole").size == 5 << 20
        assert w.stat("/restored/plain").nlink == 3
        assert w.fsck() == 0
        # and a second snapshot of the restored tree is the same archive, member by member
        again = io.BytesIO()
        w.save_tar(again, "/restored")
    again.seek(0)
    with tarfile.open(archive) as first, tarfile.open(fileobj=again) as second:

        def members(tar: tarfile.TarFile) -> list[tuple[object, ...]]:
            return sorted(
                (m.name, m.type, m.size, m.linkname, m.sparse, m.pax_headers.get("mtime"))
                for m in tar
            )

        # a hard-link group's first member may differ (the walk order is the core's)
        assert len(members(first)) == len(members(second))
        assert {m[0] for m in members(first)} == {m[0] for m in members(second)}


def test_archive_is_standard_pax_with_nanosecond_times_and_gnu_sparse(tmp_path: Path) -> None:
    archive = tmp_path / "snap.tar"
    with start_wasi() as w:
        make_tree(w)
        w.save_tar(archive, "/src")
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar}
        assert members["dir/deeper/data"].pax_headers["mtime"] == "1700000000.123456791"
        assert members["dir/deeper/data"].pax_headers["atime"] == "1600000000.987654323"
        group = [members[name] for name in ("plain", "dir/hard", "dir/deeper/hard2")]
        assert sorted(m.type for m in group) == [tarfile.REGTYPE, tarfile.LNKTYPE, tarfile.LNKTYPE]
        assert next(m for m in group if m.isfile()).pax_headers["mtime"] == "1700000000.123456789"
        assert members["dir"].isdir() and members["dir/sym"].issym()
        assert members["dir/sym"].linkname == "../plain"
        assert members["sparse"].sparse is not None and members["sparse"].size == 16 << 20
        content = tar.extractfile(members["sparse"])
        assert content is not None and content.read()[8 << 20 : (8 << 20) + 6] == b"middle"
        assert members["long-" * 50].size == len(b"a long name")
        assert members["ünïcode ✓"].isfile()
        assert members["empty_file"].mode == 0o644 and members["dir"].mode == 0o755
    # GNU tar lists it and restores it, holes and hard links included
    if shutil.which("tar"):
        out = tmp_path / "gnu"
        out.mkdir()
        subprocess.run(["tar", "-xf", str(archive), "-C", str(out)], check=True)
        sparse = out / "sparse"
        assert sparse.stat().st_size == 16 << 20
        assert sparse.read_bytes()[:4] == b"head"
        assert (out / "ends_in_hole").stat().st_size == 5 << 20  # named by GNU.sparse.name
        assert not (out / "GNUSparseFile.0").exists()
        assert (out / "dir" / "hard").stat().st_ino == (out / "plain").stat().st_ino
        assert os.readlink(out / "dir" / "sym") == "../plain"
        assert (out / "plain").stat().st_mtime_ns == T0


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar is not installed")
@pytest.mark.parametrize(
    "flags", [["--format=gnu", "-S"], ["--posix", "-S", "--sparse-version=1.0"],
              ["--posix", "-S", "--sparse-version=0.1"], ["--format=ustar"]],
)  # fmt: skip
def test_a_gnu_tar_archive_restores_and_reads_right_to_a_guest(
    tmp_path: Path, wasm_program: Callable[..., Path], flags: list[str]
) -> None:
    host = tmp_path / "host"
    (host / "sub").mkdir(parents=True)
    (host / "a.txt").write_bytes(b"alpha\n")
    os.link(host / "a.txt", host / "sub" / "a_link")
    os.symlink("../a.txt", host / "sub" / "to_a")
    with open(host / "holes.bin", "wb") as f:
        f.write(b"start")
        f.seek(3 << 20)
        f.write(b"end")
    os.utime(host / "a.txt", ns=(T1, T0))
    archive = tmp_path / "gnu.tar.gz"
    subprocess.run(["tar", *flags, "-czf", str(archive), "-C", str(host), "."], check=True)
    with start_wasi() as w:
        before = w.used_bytes()
        w.load_tar(archive, "/data")
        if "--format=ustar" not in flags:
            assert w.used_bytes() - before < 1 << 20  # the 3 MiB file came in sparse
        result = w.run(wasm_program("snapshot_read"), ["/data"])
        assert result.exit_code == 0, result.stderr
        lines = {line.split()[0]: line.split()[1:] for line in result.stdout.decode().splitlines()}
        assert w.fsck() == 0
    assert lines["a.txt"][:3] == ["f", "6", "2"]
    assert int(lines["a.txt"][3]) == (T0 if "--posix" in flags else T0 // 10**9 * 10**9)
    assert lines["sub/a_link"][:3] == ["f", "6", "2"]
    assert lines["sub/to_a"][0] == "l" and lines["sub/to_a"][4] == "../a.txt"
    assert lines["holes.bin"][:2] == ["f", str((3 << 20) + 3)]
    assert lines["sub"][0] == "d"


def test_python_tarfile_archive_restores(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        entry = tarfile.TarInfo("./top/file")
        entry.size = 5
        entry.mtime = 1234567890
        tar.addfile(entry, io.BytesIO(b"12345"))
        link = tarfile.TarInfo("top/again")
        link.type, link.linkname = tarfile.LNKTYPE, "top/file"
        tar.addfile(link)
    buffer.seek(0)
    with start_wasi() as w:
        w.load_tar(buffer, "/")
        assert w.read_file("/top/again") == b"12345"
        assert w.stat("/top/file").nlink == 2
        assert w.stat("/top/file").mtime_ns == 1234567890 * 10**9


def test_snapshot_while_programs_change_the_tree_is_one_moment(
    wasm_program: Callable[..., Path],
) -> None:
    mutator = wasm_program("snapshot_mutator")
    with start_wasi() as w:
        for name in ("pair", "count", "churn"):
            w.mkdir(f"/work/{name}", parents=True)
        w.mkdir("/ctl")
        w.write_file("/work/pair/A", b"the one file")
        init = w.init_obj()
        results: dict[str, object] = {}

        def worker(mode: str, where: str) -> None:
            with start_wasi(init) as mine:
                results[mode] = mine.run(mutator, [mode, where], timeout=120)

        threads = [
            threading.Thread(target=worker, args=("rename", "/work/pair")),
            threading.Thread(target=worker, args=("counter", "/work/count")),
            threading.Thread(target=worker, args=("churn", "/work/churn")),
        ]
        for thread in threads:
            thread.start()
        snapshots: list[bytes] = []
        try:
            deadline = time.monotonic() + 60
            while not w.exists("/work/count/y") and time.monotonic() < deadline:
                time.sleep(0.01)  # the programs are at work
            while len(snapshots) < 12:
                buffer = io.BytesIO()
                w.save_tar(buffer, "/work")
                snapshots.append(buffer.getvalue())
        finally:
            w.write_file("/ctl/stop", b"")
            for thread in threads:
                thread.join()
        for mode in ("rename", "counter", "churn"):
            result = results[mode]
            assert result.exit_code == 0, (mode, result.stderr)  # type: ignore[attr-defined]
            assert int(result.stdout) > 0  # type: ignore[attr-defined]
        assert w.fsck() == 0
    seen_rounds = set()
    for data in snapshots:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = {m.name: (tar.extractfile(m) or io.BytesIO()).read() for m in tar}
        pair = {"pair/A", "pair/B"} & set(members)
        assert len(pair) == 1, sorted(members)  # never both, never neither
        if "count/x" in members:
            x = int(members["count/x"])
            y = int(members.get("count/y", b"-1"))
            assert x in (y, y + 1), (x, y)
            seen_rounds.add(x)
        with start_wasi() as other:  # every snapshot restores to a healthy filesystem
            other.load_tar(io.BytesIO(data), "/")
            assert other.fsck() == 0
    assert len(seen_rounds) > 1  # the snapshots did see the programs at work


HOSTILE: list[tuple[str, Callable[[tarfile.TarFile], None]]] = []


def hostile(name: str) -> Callable[[Callable[[tarfile.TarFile], None]], None]:
    def register(build: Callable[[tarfile.TarFile], None]) -> None:
        HOSTILE.append((name, build))

    return register


def add(tar: tarfile.TarFile, name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> None:
    entry = tarfile.TarInfo(name)
    entry.type = kind
    entry.linkname = linkname
    if kind == tarfile.REGTYPE:
        entry.size = 1
        tar.addfile(entry, io.BytesIO(b"x"))
    else:
        tar.addfile(entry)


@hostile("absolute name")
def _abs(tar: tarfile.TarFile) -> None:
    add(tar, "fine")
    add(tar, "/etc/passwd")


@hostile("dot-dot")
def _dotdot(tar: tarfile.TarFile) -> None:
    add(tar, "a/b")
    add(tar, "a/../../outside")


@hostile("through a symlink made earlier")
def _through_symlink(tar: tarfile.TarFile) -> None:
    add(tar, "up", tarfile.SYMTYPE, linkname="..")
    add(tar, "up/escaped")


@hostile("through a symlink to a subdirectory")
def _through_inner_symlink(tar: tarfile.TarFile) -> None:
    add(tar, "real", tarfile.DIRTYPE)
    add(tar, "alias", tarfile.SYMTYPE, linkname="real")
    add(tar, "alias/x")


@hostile("hard link out of the tree")
def _hard_out(tar: tarfile.TarFile) -> None:
    add(tar, "grab", tarfile.LNKTYPE, linkname="../keep")


@hostile("hard link through a symlink")
def _hard_through(tar: tarfile.TarFile) -> None:
    add(tar, "up", tarfile.SYMTYPE, linkname="..")
    add(tar, "grab", tarfile.LNKTYPE, linkname="up/keep")


@hostile("absolute symlink")
def _abs_symlink(tar: tarfile.TarFile) -> None:
    add(tar, "etc", tarfile.SYMTYPE, linkname="/etc")


@hostile("character device")
def _chr(tar: tarfile.TarFile) -> None:
    add(tar, "null", tarfile.CHRTYPE)


@hostile("block device")
def _blk(tar: tarfile.TarFile) -> None:
    add(tar, "sda", tarfile.BLKTYPE)


@hostile("fifo")
def _fifo(tar: tarfile.TarFile) -> None:
    add(tar, "pipe", tarfile.FIFOTYPE)


@hostile("replaces a directory by a symlink")
def _dir_to_link(tar: tarfile.TarFile) -> None:
    add(tar, "d", tarfile.DIRTYPE)
    add(tar, "d", tarfile.SYMTYPE, linkname="..")
    add(tar, "d/x")


def huge_member(size: int) -> bytes:
    """A tar whose one member claims ``size`` bytes and holds three."""
    entry = tarfile.TarInfo("huge")
    entry.size = size
    return entry.tobuf(tarfile.PAX_FORMAT) + b"abc".ljust(512, b"\0") + bytes(1024)


@pytest.mark.parametrize("name,build", HOSTILE, ids=[name for name, _ in HOSTILE])
def test_hostile_archives_are_refused_and_change_nothing(
    name: str, build: Callable[[tarfile.TarFile], None]
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        build(tar)
    with start_wasi() as w:
        w.mkdir("/target/old", parents=True)
        w.write_file("/keep", b"precious")
        w.write_file("/target/old/kept", b"also")
        before = listing(w, "")
        used = w.used_bytes()
        for target in ("/target", "/fresh"):
            buffer.seek(0)
            with pytest.raises(UnsafeArchiveError):
                w.load_tar(buffer, target)
            assert listing(w, "") == before
            assert w.used_bytes() == used
            assert w.fsck() == 0


def test_sizes_past_the_largest_file_are_refused() -> None:
    with start_wasi() as w:
        w.write_file("/keep", b"precious")
        with pytest.raises(UnsafeArchiveError, match="largest file"):
            w.load_tar(io.BytesIO(huge_member(1 << 50)), "/t")
        assert w.listdir("/") == ["keep"]


def test_a_huge_pax_header_is_refused_before_it_is_read() -> None:
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 1 << 32  # tarfile would read it whole into memory
    data = header.tobuf(tarfile.USTAR_FORMAT) + bytes(4096)
    with start_wasi() as w:
        with pytest.raises(UnsafeArchiveError, match="archive header"):
            w.load_tar(io.BytesIO(data), "/t")
        assert w.listdir("/") == []


def test_an_archive_over_the_space_left_fails_cleanly() -> None:
    big = io.BytesIO()
    with tarfile.open(fileobj=big, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for number in range(4):
            entry = tarfile.TarInfo(f"d/file{number}")
            entry.size = 1 << 20
            tar.addfile(entry, io.BytesIO(os.urandom(1 << 20)))
    with start_wasi(limits=Limits(max_fs_bytes=3 << 20)) as w:
        w.mkdir("/target")
        w.write_file("/target/keep", b"precious")
        before, used = listing(w, ""), w.used_bytes()
        for target in ("/target", "/new", "/"):
            big.seek(0)
            with pytest.raises(OSError) as caught:
                w.load_tar(big, target)
            assert caught.value.errno == 28  # ENOSPC, naming the member
            assert "d/file" in str(caught.value)
            assert listing(w, "") == before
            assert w.used_bytes() == used
            assert w.fsck() == 0


def test_existing_entries_are_not_overwritten(tmp_path: Path) -> None:
    with start_wasi() as w:
        w.mkdir("/a")
        w.write_file("/a/f", b"one")
        data = io.BytesIO()
        w.save_tar(data, "/a")
        w.write_file("/a/f", b"two")
        w.write_file("/a/g", b"three")
        data.seek(0)
        with pytest.raises(FileExistsError):
            w.load_tar(data, "/a")
        assert w.read_file("/a/f") == b"two" and sorted(w.listdir("/a")) == ["f", "g"]
        data.seek(0)
        w.load_tar(data, "/b")  # a new directory: created
        assert w.read_file("/b/f") == b"one"
        with pytest.raises(NotADirectoryError):
            w.load_tar(io.BytesIO(data.getvalue()), "/a/f")
        with pytest.raises(NotADirectoryError):
            w.save_tar(tmp_path / "x.tar", "/a/f")
        assert not (tmp_path / "x.tar").exists()  # a failed snapshot leaves no file
        before = listing(w, "")
        with pytest.raises(FileNotFoundError):
            w.load_tar(tmp_path / "missing.tar", "/c")
        with pytest.raises(tarfile.ReadError):
            w.load_tar(io.BytesIO(b"not a tar archive" * 100), "/c")
        with pytest.raises(tarfile.ReadError):  # cut short inside a member's data
            w.load_tar(io.BytesIO(data.getvalue()[:1100]), "/c")
        assert listing(w, "") == before
        assert w.fsck() == 0


def test_files_over_max_file_size_are_refused_before_writing(tmp_path: Path) -> None:
    with start_wasi() as w:
        w.write_file("/big", b"x" * 1000)
        out = io.BytesIO()
        with pytest.raises(FileTooLargeError):
            w.save_tar(out, "/", max_file_size=999)
        assert out.getvalue() == b""


def test_frozen_blocks_other_programs_and_nests(wasm_program: Callable[..., Path]) -> None:
    reader = wasm_program("snapshot_read")
    with start_wasi() as w:
        w.mkdir("/d")
        init = w.init_obj()
        done = threading.Event()

        def other() -> None:
            with start_wasi(init) as mine:
                mine.run(reader, ["/d"])
            done.set()

        with w.frozen():
            with w.frozen():
                w.write_file("/d/inside", b"ok")  # this Wasi's own calls go on
            thread = threading.Thread(target=other)
            thread.start()
            assert not done.wait(0.5)  # the other program waits for the thaw
        assert done.wait(30)
        thread.join()
        assert w.fsck() == 0


def test_a_filesystem_ships_to_another_process(
    tmp_path: Path, wasm_program: Callable[..., Path]
) -> None:
    archive = tmp_path / "shipped.tar"
    reader = wasm_program("snapshot_read")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    save = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_snapshots import make_tree
        from wasi_wasm import start_wasi
        with start_wasi() as w:
            make_tree(w, "/src")
            w.save_tar({str(archive)!r}, "/")
            r = w.run({str(reader)!r}, ["/src"])
            sys.stdout.write(r.stdout.decode())
    """)
    load = textwrap.dedent(f"""
        import sys
        from wasi_wasm import start_wasi
        with start_wasi() as w:
            with open({str(archive)!r}, "rb") as f:
                w.load_tar(f)
            r = w.run({str(reader)!r}, ["/src"])
            assert w.fsck() == 0
            sys.stdout.write(r.stdout.decode())
    """)
    first = subprocess.run([sys.executable, "-c", save], env=env, capture_output=True, check=True)
    second = subprocess.run([sys.executable, "-c", load], env=env, capture_output=True, check=True)
    assert first.stdout and sorted(first.stdout.splitlines()) == sorted(second.stdout.splitlines())


def test_a_freeze_ends_with_its_process() -> None:
    """A process that ends or is recovered while frozen (a host that dies mid-snapshot, a
    Worker reaped) leaves the filesystem usable: it cannot freeze the others for good."""
    with start_wasi() as w:
        w.write_file("/f", b"before")
        other = start_wasi(w.init_obj())
        process, _root = other.fs._vfs_process()
        assert process.call("wasi_wasm_freeze") == 0
        assert process.call("wasi_wasm_freeze") == 10  # EBUSY: frozen already
        assert process.call("wasi_wasm_recover") == 1  # it held the lock: now released
        write_from_another_thread(w, b"recovered")
        assert process.call("wasi_wasm_thaw") == 28  # EINVAL: the freeze is over
        assert process.call("wasi_wasm_freeze") == 0
        process.detach()  # the freezer's process ends
        write_from_another_thread(w, b"detached")
        other.close()
        assert w.read_file("/f") == b"detached"
        assert w.fsck() == 0


def write_from_another_thread(w: Wasi, data: bytes) -> None:
    done = threading.Event()

    def write() -> None:
        w.write_file("/f", data)
        done.set()

    threading.Thread(target=write, daemon=True).start()
    assert done.wait(30), "the filesystem stayed frozen"


def test_snapshot_and_restore_stream_in_bounded_memory(tmp_path: Path) -> None:
    archive = tmp_path / "big.tar"
    with start_wasi() as w:
        w.mkdir("/d")
        with w_open(w, "/d/big") as put:
            piece = os.urandom(1 << 20)
            for number in range(48):
                put(number << 20, piece)
        tracemalloc.start()
        try:
            w.save_tar(archive, "/d")
            saving = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert archive.stat().st_size > 48 << 20
    with start_wasi() as w:
        tracemalloc.start()
        try:
            with open(archive, "rb") as source:
                w.load_tar(source, "/r")
            loading = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert w.stat("/r/big").size == 48 << 20
    assert saving < 8 << 20 and loading < 8 << 20, (saving, loading)


def w_pread(w: Wasi, path: str, offset: int, length: int) -> bytes:
    fd = w.fs._open_at(w.fs._loc(path), 0, READ_RIGHTS)
    try:
        with w.fs._buffers(length, 8, 4) as (process, _root, (buf, iov, out)):
            process.memory.write(iov, _iovec(buf, length))
            assert process.call("fd_pread", fd, iov, 1, offset, out) == 0
            return process.memory.read(buf, process.memory.read_u32(out))
    finally:
        w.fs._close(fd)


def test_a_huge_sparse_file_costs_its_data(tmp_path: Path) -> None:
    """Holes are found by the core (wasi_wasm_seek_data), never read: a 64 GiB file with
    three pieces of data saves in a moment into a small archive and restores sparse."""
    size = 64 << 30
    archive = tmp_path / "sparse.tar"
    with start_wasi() as w:
        with w_open(w, "/huge") as put:
            put(0, b"first")
            put(40 << 30, b"middle" * 30000)  # 180 KB across chunk boundaries
            put(size - 4, b"last")
        started = time.monotonic()
        w.save_tar(archive, "/")
        assert time.monotonic() - started < 10
    assert archive.stat().st_size < 1 << 20
    with tarfile.open(archive) as tar:
        member = tar.getmember("huge")
        assert member.size == size and member.sparse is not None
    with start_wasi() as w:
        before = w.used_bytes()
        w.load_tar(archive, "/")
        assert w.stat("/huge").size == size
        assert w.used_bytes() - before < 8 << 20  # the slot array and three pieces
        assert w_pread(w, "/huge", 0, 5) == b"first"
        assert w_pread(w, "/huge", 40 << 30, 12) == b"middlemiddle"
        assert w_pread(w, "/huge", (40 << 30) + 179_994, 12) == b"middle" + bytes(6)
        assert w_pread(w, "/huge", size - 4, 8) == b"last"
        assert w_pread(w, "/huge", 20 << 30, 4) == bytes(4)
        assert w.fsck() == 0


def test_seek_data_reports_data_and_holes() -> None:
    with start_wasi() as w:
        with w_open(w, "/f") as put:
            put(3 << 16, b"x")  # chunk 3 only
            put(10 << 16, b"y")  # chunk 10
        fd = w.fs._open_at(w.fs._loc("/f"), 0, READ_RIGHTS)
        try:
            with w.fs._buffers(8) as (process, _root, (out,)):

                def seek(offset: int, hole: int) -> int | str:
                    code = process.call("wasi_wasm_seek_data", fd, offset, hole, out)
                    return process.memory.read_u64(out) if code == 0 else code

                size = (10 << 16) + 1
                assert seek(0, 0) == 3 << 16
                assert seek((3 << 16) + 7, 0) == (3 << 16) + 7
                assert seek((3 << 16) + 7, 1) == 4 << 16
                assert seek(4 << 16, 0) == 10 << 16
                assert seek(10 << 16, 1) == size  # the end is a hole
                assert seek(0, 1) == 0
                assert seek(size, 0) == 60  # ENXIO at the end
                assert seek(size, 1) == 60
                assert seek(0, 2) == 28  # EINVAL
                assert process.call("wasi_wasm_seek_data", 99, 0, 0, out) == 8  # EBADF
                assert process.call("wasi_wasm_seek_data", fd, 0, 0, 12) == 21  # EFAULT
        finally:
            w.fs._close(fd)
        root_fd = w.fs._vfs_process()[1]
        with w.fs._buffers(8) as (process, _root, (out,)):
            assert process.call("wasi_wasm_seek_data", root_fd, 0, 0, out) == 8  # a directory


def test_a_run_a_close_or_a_new_process_inside_frozen_are_refused_not_hung(
    wasm_program: Callable[..., Path],
) -> None:
    """Inside frozen(), a new process of the filesystem in this thread (a program run, a copy,
    a Wasi started from init_obj) and a close would wait for the thaw for ever: each raises
    RuntimeError instead, changes nothing, and works after the block. A copy made before
    shares the freezer's host process, so its filesystem calls go on."""
    program = wasm_program("snapshot_read")
    wasi = start_wasi()
    other = wasi.copy_for_rebinding()
    wasi.write_file("/kept.txt", b"kept")
    with wasi.frozen():
        assert other.read_file("/kept.txt") == b"kept"
        for refused in (
            lambda: wasi.run(program, []),
            wasi.copy_for_rebinding,
            lambda: start_wasi(wasi.init_obj()),
            other.close,
        ):
            with pytest.raises(RuntimeError, match="frozen by this thread"):
                refused()
    assert wasi.run(program, []).exit_code == 2  # runs again: its usage message and exit 2
    other.close()
    assert wasi.fsck() == 0
    wasi.close()
