"""Lazy host mounts (DESIGN.md "Lazy host mounts"): ``Wasi.mount_host_dir``, run()'s
``mounts``, and the CLI's ``--dir`` / ``--ro-dir`` / ``--write-back``."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

from cli_run import cli
from wasi_wasm import FileTooLargeError, Limits, run, start_wasi
from wasi_wasm._abi import LAZY_DIRECTORY, LAZY_NONE, LAZY_REGULAR_FILE
from wasi_wasm._lazy_host import _MOUNT_NUMBERS, HostMount, _NumberCursor


@pytest.fixture(scope="module")
def ops(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("lazy_ops")


def snapshot(root: Path) -> dict[str, tuple[str, bytes, int]]:
    """Every entry below root: kind, content (or link target) and mtime."""
    found: dict[str, tuple[str, bytes, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            info = path.lstat()
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path).encode(), 0)
            elif path.is_dir():
                found[rel] = ("dir", b"", 0)
            else:
                found[rel] = ("file", path.read_bytes(), info.st_mtime_ns)
    return found


def big_tree(root: Path, dirs: int = 40, files: int = 25, size: int = 20_000) -> int:
    """dirs x files files of size bytes each (20 MB by default); returns the total."""
    for d in range(dirs):
        sub = root / f"d{d}"
        sub.mkdir(parents=True)
        for f in range(files):
            (sub / f"f{f}").write_bytes(bytes([d, f]) * (size // 2))
    return dirs * files * size


def lines(result_stdout: bytes) -> list[str]:
    return result_stdout.decode().splitlines()


def test_a_program_that_touches_a_few_files_materializes_only_those(
    ops: Path, tmp_path: Path
) -> None:
    total = big_tree(tmp_path / "tree")
    with start_wasi() as wasi:
        before = wasi.used_bytes()
        wasi.mount_host_dir(tmp_path / "tree", "/m")
        assert wasi.used_bytes() - before < 4096  # ready at once: nothing read yet
        result = run(
            ops, ["read", "/m/d3/f7", "stat", "/m/d10/f2"], wasi=wasi, preopens={"/m": "/m"}
        )
        assert result.exit_code == 0
        assert lines(result.stdout)[:2] == [
            "read /m/d3/f7: OK",
            "  [" + "\x03\x07" * 100 + "] 20000 bytes",
        ]
        assert "stat /m/d10/f2: OK" in lines(result.stdout)
        used = wasi.used_bytes() - before
        # the root, d3 and d10 listed (27 entries each at most) and one 20 KB file
        assert used < 200_000, used
        assert used < total / 50
        assert wasi.lazy_info("/m/d5")[1] == LAZY_DIRECTORY  # never listed
        assert wasi.lazy_info("/m/d3/f7")[1] == LAZY_NONE  # read: in memory now
        assert wasi.lazy_info("/m/d10/f2")[1] == LAZY_REGULAR_FILE  # stat needs no bytes
        assert wasi.lazy_info("/m/d3/f8")[1] == LAZY_REGULAR_FILE
        assert wasi.fsck() == 0


def test_reads_give_host_bytes_and_writes_stay_in_memory(ops: Path, tmp_path: Path) -> None:
    host = tmp_path / "tree"
    (host / "sub").mkdir(parents=True)
    (host / "a.txt").write_bytes(b"alpha")
    (host / "sub" / "b.bin").write_bytes(os.urandom(300_000))  # several 64 KiB chunks
    (host / "link").symlink_to("a.txt")
    before = snapshot(host)
    args = ["read", "/m/a.txt", "read", "/m/link", "append", "/m/a.txt", "+more",
            "write", "/m/new.txt", "fresh", "mv", "/m/sub/b.bin", "/m/b2", "rm", "/m/link",
            "mkdir", "/m/nd", "read", "/m/a.txt", "ls", "/m"]  # fmt: skip
    with start_wasi() as wasi:
        result = run(ops, args, mounts={"/m": host}, wasi=wasi)
        out = lines(result.stdout)
        assert result.exit_code == 0, out
        assert out[1] == "  [alpha] 5 bytes" and out[3] == "  [alpha] 5 bytes"
        assert "  [alpha+more] 10 bytes" in out
        assert out[-6:] == ["ls /m: OK", "  a.txt", "  b2", "  nd", "  new.txt", "  sub"]
        assert wasi.read_file("/m/b2") == (host / "sub" / "b.bin").read_bytes()
        assert wasi.fsck() == 0
    assert snapshot(host) == before, "the host changed without --write-back"


def test_write_back_applies_creates_writes_renames_and_deletes(ops: Path, tmp_path: Path) -> None:
    host = tmp_path / "tree"
    (host / "keep" / "deep").mkdir(parents=True)
    (host / "keep" / "deep" / "k.txt").write_bytes(b"kept")
    (host / "gone").mkdir()
    (host / "gone" / "g.txt").write_bytes(b"g")
    (host / "a.txt").write_bytes(b"alpha")
    (host / "b.txt").write_bytes(b"beta")
    (host / "read.txt").write_bytes(b"only read")
    untouched = (host / "keep" / "deep" / "k.txt").stat()
    read_only_before = (host / "read.txt").stat()
    args = ["write", "/m/new.txt", "fresh", "append", "/m/a.txt", "!", "mv", "/m/b.txt",
            "/m/keep/b.txt", "rm", "/m/gone/g.txt", "rmdir", "/m/gone", "mkdir", "/m/nd",
            "symlink", "a.txt", "/m/nl", "read", "/m/read.txt"]  # fmt: skip
    result = cli("run", "--dir", f"{host}::/m", "--write-back", ops, *args)
    assert result.returncode == 0, result
    assert all(line.endswith(": OK") for line in lines(result.stdout) if not line.startswith(" "))
    after = snapshot(host)
    assert after["new.txt"][1] == b"fresh"
    assert after["a.txt"][1] == b"alpha!"
    assert after["keep/b.txt"][1] == b"beta" and "b.txt" not in after
    assert "gone" not in after and "gone/g.txt" not in after
    assert after["nd"][0] == "dir" and after["nl"] == ("link", b"a.txt", 0)
    # what the program never touched, or only read, is not rewritten
    k = (host / "keep" / "deep" / "k.txt").stat()
    assert (k.st_ino, k.st_mtime_ns) == (untouched.st_ino, untouched.st_mtime_ns)
    r = (host / "read.txt").stat()
    assert (r.st_ino, r.st_mtime_ns) == (read_only_before.st_ino, read_only_before.st_mtime_ns)


def test_write_back_reads_no_untouched_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = tmp_path / "tree"
    big_tree(host, dirs=5, files=3, size=10)
    listed: list[list[bytes]] = []
    original = HostMount.listing

    def counting(self: HostMount, entry: int) -> bytes:
        listed.append(self.parts(entry))
        return original(self, entry)

    monkeypatch.setattr(HostMount, "listing", counting)
    with start_wasi() as wasi:
        wasi.mount_host_dir(host, "/m")
        wasi.write_file("/m/d1/new", b"x")
        wasi.write_back_host_dir("/m")
    assert sorted(listed) == [[], [b"d1"]]
    assert (host / "d1" / "new").read_bytes() == b"x"
    assert sorted(os.listdir(host / "d2")) == ["f0", "f1", "f2"]


def test_a_moved_lazy_entry_is_written_back_before_its_source_goes(tmp_path: Path) -> None:
    host = tmp_path / "tree"
    (host / "dir" / "in").mkdir(parents=True)
    (host / "dir" / "in" / "x").write_bytes(b"x data")
    (host / "f").write_bytes(b"f data")
    with start_wasi() as wasi:
        wasi.mount_host_dir(host, "/m")
        wasi.rename("/m/dir", "/m/moved")  # never listed: still lazy, named elsewhere
        wasi.rename("/m/f", "/m/moved2")
        wasi.write_back_host_dir("/m")
    assert sorted(os.listdir(host)) == ["moved", "moved2"]
    assert (host / "moved" / "in" / "x").read_bytes() == b"x data"
    assert (host / "moved2").read_bytes() == b"f data"


# wasmtime-py's read-only preopen (WasiConfig.preopen_dir(..., fs_mutable=False)) is what
# --ro-dir matches: every change is EPERM (63 in wasi-libc), even of a name that does not
# exist, a write to a read-only fd EBADF (8).
RO_OPS = ["read", "/m/f.txt", "openw", "/m/f.txt", "opentrunc", "/m/f.txt", "create", "/m/new",
          "create", "/m/f.txt", "mkdir", "/m/nd", "mkdir", "/m/d", "rm", "/m/f.txt", "rm",
          "/m/missing", "rmdir", "/m/d", "mv", "/m/f.txt", "/m/g", "symlink", "f.txt", "/m/l",
          "link", "/m/f.txt", "/m/h", "trunc", "/m/f.txt", "utime", "/m/f.txt", "ftrunc",
          "/m/f.txt", "futime", "/m/f.txt", "write", "/m/d/x", "y", "ls", "/m", "stat",
          "/m/d", "rm", "/m/d/sub/z", "mkdir", "/m/d/sub/new"]  # fmt: skip


def wasmtime_read_only(
    program: Path, host: Path, args: list[str], writable: Path | None = None
) -> bytes:
    """wasmtime's output with host preopened read-only at /m (and writable at /w)."""
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    config = wasmtime.WasiConfig()
    out = host.parent / "wasmtime.out"
    config.stdout_file = str(out)
    config.argv = ["lazy_ops.wasm", *args]
    config.preopen_dir(str(host), "/m", False)
    if writable:
        config.preopen_dir(str(writable), "/w", True)
    store.set_wasi(config)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    instance = linker.instantiate(store, wasmtime.Module.from_file(engine, str(program)))
    start = instance.exports(store)["_start"]
    assert isinstance(start, wasmtime.Func)
    try:
        start(store)
    except wasmtime.ExitTrap as exit_:
        assert exit_.code == 0
    return out.read_bytes()


def make_ro_tree(host: Path) -> None:
    (host / "d" / "sub").mkdir(parents=True)
    (host / "d" / "sub" / "z").write_bytes(b"z")
    (host / "f.txt").write_bytes(b"hello")


def test_ro_dir_refuses_writes_with_wasmtimes_errnos(ops: Path, tmp_path: Path) -> None:
    host = tmp_path / "tree"
    make_ro_tree(host)
    before = snapshot(host)
    expected = wasmtime_read_only(ops, host, RO_OPS)
    assert snapshot(host) == before
    assert b"errno 63" in expected and b"read /m/f.txt: OK" in expected
    result = cli("run", "--ro-dir", f"{host}::/m", ops, *RO_OPS)
    assert result.returncode == 0, result
    assert result.stdout.decode() == expected.decode()
    assert snapshot(host) == before
    # The same through run()'s read_only_mounts, and through a writable parent preopen: the
    # mount stays read-only whichever directory fd reaches it.
    outcome = run(ops, [a.replace("/m", "/top/m") for a in RO_OPS], preopens={"/top": "/top"},
                  read_only_mounts={"/top/m": host})  # fmt: skip
    assert outcome.stdout.decode() == expected.decode().replace("/m", "/top/m")


def test_a_hard_link_out_of_a_read_only_mount_is_refused(ops: Path, tmp_path: Path) -> None:
    """A link is a change of its source (a name more, a new ctime): wasmtime refuses it
    from a read-only preopen (EPERM) as it does a rename out of one. The core linked it, and
    the new name could then never be removed (its file is read-only: rm is EPERM)."""
    host = tmp_path / "tree"
    make_ro_tree(host)
    writable = tmp_path / "w"
    writable.mkdir()
    args = ["link", "/m/f.txt", "/w/g", "ls", "/w", "mv", "/m/f.txt", "/w/h"]
    expected = wasmtime_read_only(ops, host, args, writable).decode()
    assert "link /m/f.txt: errno 63" in expected and "mv /m/f.txt: errno 63" in expected
    assert list(writable.iterdir()) == []
    # The read-only mount's own fd, and a name inside it reached through a writable parent.
    result = run(ops, args, preopens={"/w": "/w"}, read_only_mounts={"/m": host})
    assert result.stdout.decode() == expected
    through = [a.replace("/m/", "/top/m/").replace("/w", "/top") for a in args]
    result = run(ops, through, preopens={"/top": "/top"}, read_only_mounts={"/top/m": host})
    listed = expected.replace("/m/", "/top/m/").replace("/w", "/top")
    listed = listed.replace("ls /top: OK\n", "ls /top: OK\n  m\n")  # the mount itself
    assert result.stdout.decode() == listed


def test_host_symlinks_pointing_outside_are_not_followed(ops: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"SECRET")
    host = tmp_path / "tree"
    (host / "sub").mkdir(parents=True)
    (host / "up").symlink_to("../outside/secret")
    (host / "abs").symlink_to(outside / "secret")
    (host / "dirlink").symlink_to(outside)
    (host / "sub" / "f").write_bytes(b"inside")
    (host / "sub2").mkdir()
    args = ["read", "/m/up", "read", "/m/abs", "read", "/m/dirlink/secret", "readlink",
            "/m/up", "ls", "/m/dirlink", "read", "/m/sub/f"]  # fmt: skip
    with start_wasi() as wasi:
        result = run(ops, args, mounts={"/m": host}, wasi=wasi)
        assert b"SECRET" not in result.stdout
        out = lines(result.stdout)
        assert out[0].startswith("read /m/up: errno") and out[1].startswith("read /m/abs: errno")
        assert out[2].startswith("read /m/dirlink/secret: errno")
        assert out[3:5] == ["readlink /m/up: OK", "  ../outside/secret"]
        # A host directory swapped for a symlink after its parent was listed (sub2 itself
        # never was) is not followed either: each component opens with O_NOFOLLOW.
        (host / "sub2").rmdir()
        (host / "sub2").symlink_to(outside)
        args = ["ls", "/m/sub2", "read", "/m/sub2/secret"]
        again = run(ops, args, wasi=wasi, preopens={"/m": "/m"})
        assert b"SECRET" not in again.stdout
        assert lines(again.stdout)[0] == "ls /m/sub2: errno 54"  # ENOTDIR, from O_NOFOLLOW
        assert wasi.fsck() == 0


def test_a_host_file_that_vanishes_after_listing_gives_an_errno(ops: Path, tmp_path: Path) -> None:
    host = tmp_path / "tree"
    host.mkdir()
    (host / "v.txt").write_bytes(b"here")
    (host / "gone").mkdir()
    with start_wasi() as wasi:
        wasi.mount_host_dir(host, "/m")
        assert sorted(wasi.listdir("/m")) == ["gone", "v.txt"]  # listed, not read
        (host / "v.txt").unlink()
        (host / "gone").rmdir()
        result = run(ops, ["read", "/m/v.txt", "ls", "/m/gone", "stat", "/m/v.txt"], wasi=wasi,
                     preopens={"/m": "/m"})  # fmt: skip
        assert lines(result.stdout) == [
            "read /m/v.txt: errno 44", "ls /m/gone: errno 44", "stat /m/v.txt: OK", "  file 4",
        ]  # fmt: skip
        assert wasi.fsck() == 0
        assert wasi.lazy_info("/m/v.txt")[1] == LAZY_REGULAR_FILE  # as before the failure


def test_two_threads_racing_on_a_lazy_directory_list_it_once(
    ops: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = tmp_path / "tree"
    (host / "many").mkdir(parents=True)
    for i in range(500):
        (host / "many" / f"n{i:03}").write_bytes(b"%d" % i)
    listed: list[list[bytes]] = []
    original = HostMount.listing

    def counting(self: HostMount, entry: int) -> bytes:
        listed.append(self.parts(entry))
        return original(self, entry)

    monkeypatch.setattr(HostMount, "listing", counting)
    with start_wasi() as wasi:
        wasi.mount_host_dir(host, "/m")
        wasi.stat("/m/many")  # the root listed; many is lazy
        init = wasi.init_obj()
        outputs: list[bytes] = []
        barrier = threading.Barrier(2)

        def worker(args: list[str]) -> None:
            with start_wasi(init) as mine:
                barrier.wait()
                outputs.append(run(ops, args, wasi=mine, preopens={"/m": "/m"}).stdout)

        threads = [
            threading.Thread(target=worker, args=(["ls", "/m/many"],)),
            threading.Thread(
                target=worker, args=(["read", "/m/many/n123", "stat", "/m/many/n499"],)
            ),
        ]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert listed.count([b"many"]) == 1, listed
        assert len(outputs) == 2
        listing = next(out for out in outputs if out.startswith(b"ls"))
        assert len(lines(listing)) == 501
        assert any(b"[123] 3 bytes" in out for out in outputs)
        assert wasi.fsck() == 0


def test_a_failing_hook_leaves_the_directory_lazy_and_the_vfs_consistent(
    ops: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = tmp_path / "tree"
    (host / "d").mkdir(parents=True)
    for i in range(50):
        (host / "d" / f"f{i}").write_bytes(b"x")
    with start_wasi() as wasi:
        wasi.mount_host_dir(host, "/m")
        assert wasi.listdir("/m") == ["d"]
        used = wasi.used_bytes()
        original = HostMount.listing

        def broken(self: HostMount, entry: int) -> bytes:
            raise RuntimeError("a host bug")

        monkeypatch.setattr(HostMount, "listing", broken)
        result = run(ops, ["ls", "/m/d", "stat", "/m/d/f1"], wasi=wasi, preopens={"/m": "/m"})
        assert lines(result.stdout) == ["ls /m/d: errno 29", "stat /m/d/f1: errno 29"]  # EIO
        assert wasi.fsck() == 0
        assert wasi.lazy_info("/m/d")[1] == LAZY_DIRECTORY
        assert wasi.used_bytes() == used
        monkeypatch.setattr(HostMount, "listing", original)
        assert len(wasi.listdir("/m/d")) == 50
        assert wasi.fsck() == 0


def test_loaded_bytes_count_against_max_fs_bytes(ops: Path, tmp_path: Path) -> None:
    host = tmp_path / "tree"
    host.mkdir()
    (host / "big").write_bytes(b"b" * (3 << 20))
    (host / "small").write_bytes(b"s" * 1000)
    with start_wasi(limits=Limits(max_fs_bytes=2 << 20)) as wasi:
        wasi.mount_host_dir(host, "/m")
        args = ["stat", "/m/big", "read", "/m/big", "read", "/m/small"]
        result = run(ops, args, wasi=wasi, preopens={"/m": "/m"})
        assert lines(result.stdout) == [
            "stat /m/big: OK", "  file 3145728", "read /m/big: errno 51",
            "read /m/small: OK", "  [" + "s" * 200 + "] 1000 bytes",
        ]  # fmt: skip
        assert wasi.lazy_info("/m/big")[1] == LAZY_REGULAR_FILE  # nothing of it kept
        assert wasi.fsck() == 0


def test_mount_numbers_stay_below_the_token_bits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token is mount number << 40 | entry + 1 in a u64, and wasmtime-py truncates a larger
    int without a word: numbered on past 2^24, the 2^24-th mount after a live one took its
    tokens and listed its host directory. The numbers start near the end here, as after 16
    million mounts in one Python process."""
    for name in "abcd":
        (tmp_path / name).mkdir()
        (tmp_path / name / f"only_in_{name}").write_bytes(name.encode())
    with contextlib.ExitStack() as stack:
        filesystems = []
        for index, name in enumerate("abcd"):
            if index == 1:
                monkeypatch.setattr(_NumberCursor, "next", _MOUNT_NUMBERS - 2)
            wasi = stack.enter_context(start_wasi())
            wasi.mount_host_dir(tmp_path / name, "/m")
            filesystems.append(wasi)
        for name, wasi in zip("abcd", filesystems, strict=True):
            assert wasi.listdir("/m") == [f"only_in_{name}"]
            token = wasi.lazy_info("/m/only_in_" + name)[0]
            assert 0 < token < 1 << 64


def test_nested_dirs_mount_in_either_order(ops: Path, tmp_path: Path) -> None:
    outer, inner = tmp_path / "outer", tmp_path / "inner"
    (outer / "sub").mkdir(parents=True)
    (outer / "sub" / "hidden").write_bytes(b"h")
    (outer / "top").write_bytes(b"t")
    inner.mkdir()
    (inner / "own").write_bytes(b"o")
    for order in ([f"{inner}::/m/sub", f"{outer}::/m"], [f"{outer}::/m", f"{inner}::/m/sub"]):
        args = [flag for item in order for flag in ("--dir", item)]
        result = cli("run", *args, ops, "ls", "/m", "ls", "/m/sub")
        assert result.returncode == 0, result
        assert lines(result.stdout) == ["ls /m: OK", "  sub", "  top", "ls /m/sub: OK", "  own"]


def test_write_back_refuses_a_file_over_max_file_size_before_changing_the_host(
    ops: Path, tmp_path: Path
) -> None:
    host = tmp_path / "tree"
    (host / "sub").mkdir(parents=True)
    (host / "sub" / "f").write_bytes(b"f")
    (host / "gone").write_bytes(b"g")
    before = snapshot(host)
    with start_wasi() as wasi:
        wasi.mount_host_dir(host, "/m")
        wasi.remove("/m/gone")
        wasi.write_file("/m/new", b"n")
        size = str((4 << 30) + 1)  # sparse: costs the VFS nothing
        result = run(ops, ["size", "/m/sub/f", size], wasi=wasi, preopens={"/m": "/m"})
        assert lines(result.stdout) == ["size /m/sub/f: OK"]
        with pytest.raises(FileTooLargeError):
            wasi.write_back_host_dir("/m")
        assert snapshot(host) == before
        wasi.write_back_host_dir("/m", max_file_size=1 << 40)
    assert (host / "sub" / "f").stat().st_size == (4 << 30) + 1
    assert sorted(os.listdir(host)) == ["new", "sub"]


def test_write_back_leaves_alone_what_the_mount_never_showed(tmp_path: Path) -> None:
    """Host entries the VFS cannot hold (a FIFO, a name that is not UTF-8, a name over 255
    bytes, a symlink whose target is not UTF-8) are left out of the mount's listing, so a
    program can neither see nor remove them: write-back must leave them on the host, while
    it still deletes what the program removed beside them. It deleted them all as extras."""
    host = tmp_path / "tree"
    (host / "sub").mkdir(parents=True)
    os.mkfifo(host / "sub" / "fifo")
    odd = os.fsencode(host / "sub") + b"/odd-\xff"
    Path(os.fsdecode(odd)).write_bytes(b"latin-1 name")
    (host / "sub" / ("n" * 200)).write_bytes(b"long but fine")
    os.symlink(b"target-\xfe", os.fsencode(host / "sub") + b"/badlink")
    (host / "sub" / "removed").write_bytes(b"r")
    before = set(os.listdir(os.fsencode(host / "sub")))
    with start_wasi() as wasi:
        wasi.mount_host_dir(host, "/m")
        assert sorted(wasi.listdir("/m/sub")) == ["n" * 200, "removed"]
        wasi.remove("/m/sub/removed")
        wasi.write_file("/m/sub/new", b"new")
        wasi.write_back_host_dir("/m")
    after = set(os.listdir(os.fsencode(host / "sub")))
    assert after == (before - {b"removed"}) | {b"new"}
    assert Path(os.fsdecode(odd)).read_bytes() == b"latin-1 name"
    assert os.readlink(os.fsencode(host / "sub") + b"/badlink") == b"target-\xfe"
