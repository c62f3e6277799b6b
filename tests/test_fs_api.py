"""The host-side filesystem API on Wasi, its error mapping, and host <-> VFS tree copies."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wasi_wasm
from wasi_wasm import FileType, StatResult, errno_from_name, errno_name, start_wasi
from wasi_wasm._errno import WASI_ERRNO_NAMES, error_from_wasi

NAME_CHARS = "abcXYZ019_-.é"


@pytest.fixture(params=[True, False], ids=["bridge", "fallback"])
def wasi(request: pytest.FixtureRequest) -> Iterator[wasi_wasm.Wasi]:
    with start_wasi(bridge=request.param) as instance:
        yield instance


@pytest.fixture(scope="module")
def tool(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("api_tool")


# -- files -----------------------------------------------------------------------------------
def test_write_and_read_round_trip(wasi: wasi_wasm.Wasi) -> None:
    wasi.write_file("/hello.txt", b"hello")
    assert wasi.read_file("/hello.txt") == b"hello"
    wasi.write_file("/hello.txt", b"hi")  # truncates
    assert wasi.read_file("/hello.txt") == b"hi"
    wasi.write_file("/empty", b"")
    assert wasi.read_file("/empty") == b""
    wasi.write_file("/view", memoryview(bytearray(b"from a view")))
    assert wasi.read_file("/view") == b"from a view"


def test_large_file_spans_many_chunks(wasi: wasi_wasm.Wasi) -> None:
    data = os.urandom(3 * (1 << 20) + 12345)
    wasi.write_file("/large.bin", data)
    assert wasi.stat("/large.bin").size == len(data)
    assert wasi.read_file("/large.bin") == data


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=5000), name=st.text(alphabet=NAME_CHARS, min_size=1, max_size=30))
def test_any_bytes_under_any_name(data: bytes, name: str) -> None:
    if name in (".", ".."):
        return
    with start_wasi() as wasi:
        wasi.write_file("/" + name, data)
        assert wasi.read_file("/" + name) == data
        assert wasi.listdir("/") == [name]


def test_programs_see_host_files_and_vice_versa(wasi: wasi_wasm.Wasi, tool: Path) -> None:
    wasi.mkdir("/data")
    wasi.write_file("/data/in.txt", b"from host")
    assert wasi.run(tool, ["read", "/data/in.txt"]).stdout == b"from host"
    assert wasi.run(tool, ["write", "/data/out.txt", "from guest"]).exit_code == 0
    assert wasi.read_file("/data/out.txt") == b"from guest"
    assert wasi.run(tool, ["ls", "/data"]).stdout == b"in.txt\nout.txt\n"


# -- directories -----------------------------------------------------------------------------
def test_mkdir_listdir_rmdir(wasi: wasi_wasm.Wasi) -> None:
    assert wasi.listdir("/") == []
    wasi.mkdir("/a")
    wasi.mkdir("/a/b")
    wasi.write_file("/a/f", b"")
    assert sorted(wasi.listdir("/a")) == ["b", "f"]
    assert sorted(wasi.listdir("/a/")) == ["b", "f"]
    wasi.rmdir("/a/b")
    assert wasi.listdir("/a") == ["f"]


def test_mkdir_parents_and_exist_ok(wasi: wasi_wasm.Wasi) -> None:
    wasi.mkdir("/x/y/z", parents=True)
    assert wasi.is_dir("/x/y/z")
    wasi.mkdir("/x/y/z", parents=True, exist_ok=True)
    wasi.mkdir("/x", exist_ok=True)
    with pytest.raises(FileExistsError) as caught:
        wasi.mkdir("/x/y")
    assert caught.value.filename == "/x/y"
    wasi.write_file("/x/file", b"")
    with pytest.raises(FileExistsError):
        wasi.mkdir("/x/file", exist_ok=True)  # exists, but not as a directory
    with pytest.raises(FileNotFoundError):
        wasi.mkdir("/missing/child")


def test_listdir_of_a_big_directory_crosses_buffers(wasi: wasi_wasm.Wasi) -> None:
    wasi.mkdir("/many")
    names = [f"file-{i:04d}-" + "n" * 40 for i in range(1500)]
    for name in names:
        wasi.write_file(f"/many/{name}", b"")
    listed = wasi.listdir("/many")
    assert sorted(listed) == names
    assert len(listed) == len(set(listed))


def test_long_name_larger_than_first_guess(wasi: wasi_wasm.Wasi) -> None:
    name = "n" * 255
    wasi.write_file("/" + name, b"x")
    assert wasi.listdir("/") == [name]


def test_rmtree(wasi: wasi_wasm.Wasi) -> None:
    wasi.mkdir("/t/a/b", parents=True)
    wasi.write_file("/t/a/b/f", b"1")
    wasi.write_file("/t/g", b"2")
    wasi.symlink("a", "/t/link")
    wasi.rmtree("/t")
    assert not wasi.exists("/t")
    with pytest.raises(NotADirectoryError):
        wasi.write_file("/file", b"")
        wasi.rmtree("/file")


# -- metadata ---------------------------------------------------------------------------------
def test_stat_fields(wasi: wasi_wasm.Wasi) -> None:
    wasi.write_file("/f", b"12345")
    wasi.mkdir("/d")
    file_stat = wasi.stat("/f")
    dir_stat = wasi.stat("/d")
    assert isinstance(file_stat, StatResult)
    assert file_stat.filetype is FileType.REGULAR_FILE and file_stat.is_file
    assert dir_stat.filetype is FileType.DIRECTORY and dir_stat.is_dir
    assert file_stat.size == 5
    assert file_stat.nlink == 1
    assert file_stat.ino != dir_stat.ino
    assert file_stat.dev == dir_stat.dev
    assert file_stat.mtime_ns > 1_577_836_800 * 10**9  # after 2020
    assert file_stat.ctime_ns >= file_stat.mtime_ns - 10**9


def test_set_times(wasi: wasi_wasm.Wasi) -> None:
    wasi.write_file("/f", b"")
    wasi.set_times("/f", atime_ns=1_000_000_000, mtime_ns=2_000_000_000)
    info = wasi.stat("/f")
    assert (info.atime_ns, info.mtime_ns) == (1_000_000_000, 2_000_000_000)
    wasi.set_times("/f", mtime_ns=3_000_000_000)
    info = wasi.stat("/f")
    assert (info.atime_ns, info.mtime_ns) == (1_000_000_000, 3_000_000_000)


def test_exists_is_dir_is_file(wasi: wasi_wasm.Wasi) -> None:
    wasi.write_file("/f", b"")
    wasi.mkdir("/d")
    wasi.symlink("nowhere", "/dangling")
    assert wasi.exists("/f") and wasi.exists("/d") and wasi.exists("/")
    assert not wasi.exists("/missing") and not wasi.exists("/f/below")
    assert not wasi.exists("/dangling")  # follows the link, like os.path.exists
    assert wasi.lstat("/dangling").is_symlink
    assert wasi.is_file("/f") and not wasi.is_file("/d")
    assert wasi.is_dir("/d") and not wasi.is_dir("/f")


# -- names -------------------------------------------------------------------------------------
def test_remove_rename_link(wasi: wasi_wasm.Wasi) -> None:
    wasi.write_file("/a", b"A")
    wasi.rename("/a", "/b")
    assert not wasi.exists("/a")
    assert wasi.read_file("/b") == b"A"
    wasi.link("/b", "/c")
    assert wasi.stat("/b").nlink == 2
    assert wasi.stat("/b").ino == wasi.stat("/c").ino
    wasi.remove("/b")
    assert wasi.stat("/c").nlink == 1
    assert wasi.read_file("/c") == b"A"
    wasi.mkdir("/dir")
    wasi.rename("/dir", "/moved")
    assert wasi.is_dir("/moved")


def test_symlink_and_readlink(wasi: wasi_wasm.Wasi) -> None:
    wasi.mkdir("/d")
    wasi.write_file("/d/target", b"T")
    wasi.symlink("target", "/d/rel")
    # An absolute target could only ever escape the preopen: refused, as wasmtime does.
    _raises(wasi, PermissionError, errno.EPERM, lambda: wasi.symlink("/d/target", "/abs"))
    assert not wasi.exists("/abs")
    assert wasi.readlink("/d/rel") == "target"
    assert wasi.read_file("/d/rel") == b"T"
    assert wasi.lstat("/d/rel").filetype is FileType.SYMBOLIC_LINK
    assert wasi.stat("/d/rel").filetype is FileType.REGULAR_FILE
    long_target = "t" * 1000
    wasi.symlink(long_target, "/long")
    assert wasi.readlink("/long") == long_target
    wasi.remove("/d/rel")
    assert not wasi.exists("/d/rel")
    assert wasi.exists("/d/target")


# -- errors: WASI errno -> Python exception naming the path -------------------------------------
def _raises(
    wasi: wasi_wasm.Wasi, exception: type[OSError], number: int, action: Callable[[], object]
) -> OSError:
    with pytest.raises(exception) as caught:
        action()
    assert caught.value.errno == number
    return caught.value


def test_error_mapping_from_real_calls(wasi: wasi_wasm.Wasi) -> None:
    wasi.write_file("/file", b"x")
    wasi.mkdir("/dir")
    wasi.write_file("/dir/child", b"")
    wasi.symlink("loop2", "/loop1")
    wasi.symlink("loop1", "/loop2")

    error = _raises(wasi, FileNotFoundError, errno.ENOENT, lambda: wasi.read_file("/nope"))
    assert error.filename == "/nope"
    assert "ENOENT" in str(error) and "/nope" in str(error)
    _raises(wasi, FileNotFoundError, errno.ENOENT, lambda: wasi.stat("/nope/deeper"))
    _raises(wasi, FileNotFoundError, errno.ENOENT, lambda: wasi.remove("/nope"))
    _raises(wasi, FileNotFoundError, errno.ENOENT, lambda: wasi.listdir("/nope"))
    _raises(wasi, FileExistsError, errno.EEXIST, lambda: wasi.mkdir("/dir"))
    _raises(wasi, FileExistsError, errno.EEXIST, lambda: wasi.symlink("x", "/file"))
    _raises(wasi, NotADirectoryError, errno.ENOTDIR, lambda: wasi.listdir("/file"))
    _raises(wasi, NotADirectoryError, errno.ENOTDIR, lambda: wasi.stat("/file/x"))
    _raises(wasi, NotADirectoryError, errno.ENOTDIR, lambda: wasi.rmdir("/file"))
    _raises(wasi, IsADirectoryError, errno.EISDIR, lambda: wasi.write_file("/dir", b""))
    _raises(wasi, IsADirectoryError, errno.EISDIR, lambda: wasi.read_file("/dir"))
    _raises(wasi, IsADirectoryError, errno.EISDIR, lambda: wasi.remove("/dir"))
    _raises(wasi, OSError, errno.ENOTEMPTY, lambda: wasi.rmdir("/dir"))
    _raises(wasi, OSError, errno.ELOOP, lambda: wasi.read_file("/loop1"))
    _raises(wasi, OSError, errno.EINVAL, lambda: wasi.rename("/dir", "/dir/inside"))
    _raises(wasi, OSError, errno.EINVAL, lambda: wasi.readlink("/file"))
    _raises(wasi, PermissionError, errno.EPERM, lambda: wasi.read_file("/../escape"))
    escaped = _raises(wasi, PermissionError, errno.EPERM, lambda: wasi.symlink("/file", "/abs"))
    assert escaped.filename == "/abs"
    renamed = _raises(wasi, NotADirectoryError, errno.ENOTDIR, lambda: wasi.rename("/dir", "/file"))
    assert (renamed.filename, renamed.filename2) == ("/dir", "/file")


def test_relative_paths_are_rejected(wasi: wasi_wasm.Wasi) -> None:
    with pytest.raises(ValueError, match="absolute"):
        wasi.read_file("relative")


@pytest.mark.parametrize("code", range(1, len(WASI_ERRNO_NAMES)))
def test_every_wasi_errno_becomes_the_matching_oserror(code: int) -> None:
    name = WASI_ERRNO_NAMES[code].upper()
    error = error_from_wasi(code, "/p")
    assert isinstance(error, OSError)
    assert error.filename == "/p"
    assert f"E{name}" in str(error)
    if name == "NOTCAPABLE":
        assert isinstance(error, PermissionError) and error.errno == errno.EPERM
    else:
        assert error.errno == getattr(errno, f"E{name}")


@pytest.mark.parametrize(
    ("name", "exception"),
    [
        ("ENOENT", FileNotFoundError),
        ("EEXIST", FileExistsError),
        ("ENOTDIR", NotADirectoryError),
        ("EISDIR", IsADirectoryError),
        ("EACCES", PermissionError),
        ("EPERM", PermissionError),
        ("ENOTCAPABLE", PermissionError),
        ("EAGAIN", BlockingIOError),
        ("EINTR", InterruptedError),
        ("EPIPE", BrokenPipeError),
        ("ETIMEDOUT", TimeoutError),
    ],
)
def test_errno_subclasses(name: str, exception: type[OSError]) -> None:
    assert type(error_from_wasi(errno_from_name(name), "/p")) is exception


def test_errno_names_follow_the_spec() -> None:
    assert len(WASI_ERRNO_NAMES) == 77
    assert errno_name(0) == "OK"
    assert errno_name(44) == "ENOENT"
    assert errno_name(76) == "ENOTCAPABLE"
    assert errno_name(28) == "EINVAL"
    assert errno_name(1) == "E2BIG"
    assert errno_from_name("noent") == errno_from_name("ENOENT") == 44
    assert errno_from_name("exist") == errno_from_name("EEXIST") == 20
    assert errno_from_name("OK") == 0
    with pytest.raises(KeyError):
        errno_from_name("EWHATEVER")


# -- trees between host and VFS ----------------------------------------------------------------
def _make_host_tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha")
    (root / "sub" / "b.bin").write_bytes(bytes(range(256)))
    (root / "sub" / "deeper" / "c").write_bytes(b"")
    (root / "link").symlink_to("a.txt")
    os.utime(root / "a.txt", ns=(1_600_000_000 * 10**9, 1_600_000_001 * 10**9))


def test_copy_in_tree(wasi: wasi_wasm.Wasi, tmp_path: Path) -> None:
    _make_host_tree(tmp_path)
    wasi.copy_in_tree(tmp_path, "/mnt/host")
    assert sorted(wasi.listdir("/mnt/host")) == ["a.txt", "link", "sub"]
    assert wasi.read_file("/mnt/host/a.txt") == b"alpha"
    assert wasi.read_file("/mnt/host/sub/b.bin") == bytes(range(256))
    assert wasi.read_file("/mnt/host/sub/deeper/c") == b""
    assert wasi.readlink("/mnt/host/link") == "a.txt"
    assert wasi.read_file("/mnt/host/link") == b"alpha"
    assert wasi.stat("/mnt/host/a.txt").mtime_ns == 1_600_000_001 * 10**9


def test_copy_out_tree_round_trip(wasi: wasi_wasm.Wasi, tmp_path: Path) -> None:
    source, target = tmp_path / "src", tmp_path / "out"
    source.mkdir()
    _make_host_tree(source)
    wasi.copy_in_tree(source, "/t")
    wasi.write_file("/t/new.txt", b"made in the VFS")
    wasi.copy_out_tree("/t", target)
    assert (target / "a.txt").read_bytes() == b"alpha"
    assert (target / "sub" / "b.bin").read_bytes() == bytes(range(256))
    assert (target / "sub" / "deeper" / "c").read_bytes() == b""
    assert os.readlink(target / "link") == "a.txt"
    assert (target / "new.txt").read_bytes() == b"made in the VFS"
    assert (target / "a.txt").stat().st_mtime_ns == 1_600_000_001 * 10**9


def test_copy_out_tree_delete_mirrors_and_never_writes_through_links(
    wasi: wasi_wasm.Wasi, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"must not change")
    host = tmp_path / "host"
    host.mkdir()
    (host / "stale").write_bytes(b"old")
    (host / "stale-dir").mkdir()
    (host / "x").symlink_to(outside)
    wasi.mkdir("/v")
    wasi.write_file("/v/x", b"new content")
    wasi.copy_out_tree("/v", host)
    assert (host / "stale").exists()  # kept without delete=True
    wasi.copy_out_tree("/v", host, delete=True)
    assert sorted(os.listdir(host)) == ["x"]
    assert not (host / "x").is_symlink()
    assert (host / "x").read_bytes() == b"new content"
    assert outside.read_bytes() == b"must not change"


def test_large_file_grows_the_core_memory() -> None:
    with start_wasi() as wasi:
        pages_before = wasi.memory.data_len()
        data = b"z" * (40 << 20)
        wasi.write_file("/huge", data)
        assert wasi.memory.data_len() > pages_before
        assert wasi.read_file("/huge") == data


def test_a_large_read_is_one_files_bytes_while_others_replace_it(wasi: wasi_wasm.Wasi) -> None:
    """A read of a 3 MiB file takes several core calls; another thread meanwhile replaces the
    file again and again (write_file renames a new file over the path): every read returns
    all of one version, never a mix of two (the read starts again when the inode changes)."""
    versions = [bytes([c]) * (3 << 20) for c in b"ab"]
    wasi.write_file("/big", versions[0])
    stop = threading.Event()

    def replace() -> None:
        with start_wasi(wasi.init_obj()) as other:
            n = 0
            while not stop.is_set():
                n += 1
                other.write_file("/big", versions[n % 2])

    replacer = threading.Thread(target=replace)
    replacer.start()
    try:
        reads = [wasi.read_file("/big") for _ in range(40)]
    finally:
        stop.set()
        replacer.join()
    assert all(r in versions for r in reads), {r[:1] + r[-1:] for r in reads}


# -- the core's write protocol (wasi_wasm_fs_file_*) -----------------------------------------
def test_a_new_file_is_invisible_until_committed_and_its_handle_is_spent(
    wasi: wasi_wasm.Wasi,
) -> None:
    """write_file's file is no directory's until the commit; fsck counts it as held; a
    handle that was committed, dropped or never handed out is EBADF, and a drop gives the
    memory back."""
    process, root = wasi.fs._vfs_process()
    ebadf = errno_from_name("EBADF")
    wasi.write_file("/f", b"old")
    before = wasi.used_bytes()
    with process.scratch(64) as buf:
        process.memory.write(buf, b"f")

        def new_file() -> int:
            assert process.call("wasi_wasm_fs_file_new", root, buf, 1, buf + 8) == 0
            return process.memory.read_u32(buf + 8)

        handle = new_file()
        process.memory.write(buf + 16, b"x" * 40)
        assert process.call("wasi_wasm_fs_file_append", handle, buf + 16, 40) == 0
        assert wasi.read_file("/f") == b"old" and wasi.listdir("/") == ["f"]
        assert wasi.fsck() == 0
        assert process.call("wasi_wasm_fs_file_drop", handle) == 0
        assert wasi.used_bytes() == before
        for spent in (handle, 0, 0xDEADBEEF):
            assert process.call("wasi_wasm_fs_file_append", spent, buf + 16, 1) == ebadf
            assert process.call("wasi_wasm_fs_file_drop", spent) == ebadf
            assert process.call("wasi_wasm_fs_file_commit", spent, root, buf, 1, 0, 0, 0) == ebadf
        handle = new_file()
        assert process.call("wasi_wasm_fs_file_commit", handle, root, buf, 1, 0, 0, 0) == 0
        assert process.call("wasi_wasm_fs_file_drop", handle) == ebadf
    assert wasi.read_file("/f") == b"" and wasi.fsck() == 0
