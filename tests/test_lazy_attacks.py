"""Hostile but legal inputs against the host side of lazy host mounts and write-back
(DESIGN.md "Lazy host mounts"): a write-back must change on the host only what the
programs changed, never what someone else changed there, and never another mount's tree."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from cli_run import assert_usage_error, cli
from wasi_wasm import run, start_wasi


@pytest.fixture(scope="module")
def ops(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("lazy_ops")


def tree(root: Path) -> dict[str, bytes | None]:
    """Every entry below root: a file's bytes, None for a directory."""
    found: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            found[str(Path(dirpath, name).relative_to(root))] = None
        for name in filenames:
            path = Path(dirpath, name)
            found[str(path.relative_to(root))] = path.read_bytes()
    return found


def ok_lines(stdout: bytes) -> list[str]:
    return [line for line in stdout.decode().splitlines() if not line.startswith(" ")]


def test_a_directory_mounted_twice_is_refused_not_mirrored_into_the_first(
    ops: Path, tmp_path: Path
) -> None:
    """`--dir a::/x --dir b::x --write-back` mounted b over a (a lazy directory not listed
    yet takes a nested mount), and the write-back of a then mirrored b's tree into a:
    everything a had and b had not was deleted from the host."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "precious").write_bytes(b"p")
    (b / "other").write_bytes(b"o")
    result = cli("run", "--dir", f"{a}::/x", "--dir", f"{b}::x", "--write-back", ops, "ls", "/x")
    assert_usage_error(result, "/x", "already a lazy mount")
    assert tree(a) == {"precious": b"p"} and tree(b) == {"other": b"o"}
    with start_wasi() as wasi:
        wasi.mount_host_dir(a, "/x")
        with pytest.raises(OSError) as caught:
            wasi.mount_host_dir(b, "/x/")
        assert caught.value.errno == errno.EBUSY
        assert wasi.listdir("/x") == ["precious"]


def test_the_write_back_of_an_outer_mount_leaves_a_nested_mount_alone(
    ops: Path, tmp_path: Path
) -> None:
    """`--dir outer::/m --dir inner::/m/sub`: once the program listed /m/sub (inner's root),
    the write-back of outer took it for a directory of its own: it copied inner's files into
    outer/sub and deleted what outer/sub had (hidden under the nested mount)."""
    outer, inner = tmp_path / "outer", tmp_path / "inner"
    (outer / "sub").mkdir(parents=True)
    (outer / "sub" / "hidden").write_bytes(b"h")
    inner.mkdir()
    (inner / "own").write_bytes(b"o")
    args = ["ls", "/m/sub", "read", "/m/sub/own", "write", "/m/sub/new", "n",
            "write", "/m/top", "t"]  # fmt: skip
    result = cli("run", "--dir", f"{outer}::/m", "--dir", f"{inner}::/m/sub", "--write-back",
                 ops, *args)  # fmt: skip
    assert result.returncode == 0, result
    assert all(line.endswith(": OK") for line in ok_lines(result.stdout)), result.stdout
    assert tree(outer) == {"sub": None, "sub/hidden": b"h", "top": b"t"}
    assert tree(inner) == {"own": b"o", "new": b"n"}


def test_write_back_keeps_host_entries_made_after_the_listing(tmp_path: Path) -> None:
    """A name the host gained after the mount listed its directory was never shown to the
    program, which cannot have removed it; write-back deleted it as an extra."""
    host = tmp_path / "tree"
    (host / "sub").mkdir(parents=True)
    (host / "sub" / "f").write_bytes(b"f")
    (host / "gone").write_bytes(b"g")
    with start_wasi() as wasi:
        wasi.mount_host_dir(host, "/m")
        assert wasi.listdir("/m/sub") == ["f"]
        (host / "late").write_bytes(b"made on the host after the listing")
        (host / "sub" / "late-dir").mkdir()
        (host / "sub" / "late-dir" / "x").write_bytes(b"x")
        wasi.remove("/m/gone")
        wasi.write_file("/m/sub/new", b"n")
        wasi.write_back_host_dir("/m")
    assert tree(host) == {
        "late": b"made on the host after the listing", "sub": None, "sub/f": b"f",
        "sub/new": b"n", "sub/late-dir": None, "sub/late-dir/x": b"x",
    }  # fmt: skip


def test_a_removed_directory_keeps_what_the_host_added_to_it_since(
    ops: Path, tmp_path: Path
) -> None:
    """The program emptied and removed a directory it listed; a file the host put there
    later stays, and so does the directory holding it (as a FIFO there stays)."""
    host = tmp_path / "tree"
    (host / "d" / "e").mkdir(parents=True)
    (host / "d" / "a").write_bytes(b"a")
    (host / "d" / "e" / "b").write_bytes(b"b")
    (host / "empty").mkdir()
    (host / "empty" / "c").write_bytes(b"c")
    with start_wasi() as wasi:
        wasi.mount_host_dir(host, "/m")
        assert sorted(wasi.listdir("/m/d")) == ["a", "e"] and wasi.listdir("/m/d/e") == ["b"]
        assert wasi.listdir("/m/empty") == ["c"]
        (host / "d" / "e" / "late").write_bytes(b"late")
        os.mkfifo(host / "d" / "fifo")
        args = ["rm", "/m/d/a", "rm", "/m/d/e/b", "rmdir", "/m/d/e", "rmdir", "/m/d",
                "rm", "/m/empty/c", "rmdir", "/m/empty"]  # fmt: skip
        result = run(ops, args, wasi=wasi, preopens={"/m": "/m"})
        assert all(line.endswith(": OK") for line in ok_lines(result.stdout)), result.stdout
        wasi.write_back_host_dir("/m")
    assert sorted(os.listdir(host)) == ["d"]
    assert sorted(os.listdir(host / "d")) == ["e", "fifo"]
    assert tree(host / "d" / "e") == {"late": b"late"}


def test_write_back_keeps_a_host_change_to_a_file_the_program_only_read(
    ops: Path, tmp_path: Path
) -> None:
    """A file the program only read was written back over a host change made since the
    listing (its size and mtime no longer matched the host's), losing that change; twice
    over for a file the program wrote, written back, and the host changed again."""
    host = tmp_path / "tree"
    host.mkdir()
    (host / "read").write_bytes(b"old")
    (host / "written").write_bytes(b"old")
    with start_wasi() as wasi:
        wasi.mount_host_dir(host, "/m")
        args = ["read", "/m/read", "write", "/m/written", "by the program"]
        result = run(ops, args, wasi=wasi, preopens={"/m": "/m"})
        assert all(line.endswith(": OK") for line in ok_lines(result.stdout)), result.stdout
        (host / "read").write_bytes(b"changed on the host")
        wasi.write_back_host_dir("/m")
        assert tree(host) == {"read": b"changed on the host", "written": b"by the program"}
        (host / "written").write_bytes(b"changed on the host after the first write-back")
        wasi.write_back_host_dir("/m")  # nothing changed in the VFS since the first
        assert (host / "written").read_bytes() == b"changed on the host after the first write-back"
        wasi.write_file("/m/written", b"by the program again")
        wasi.write_back_host_dir("/m")
    assert tree(host) == {"read": b"changed on the host", "written": b"by the program again"}


def test_overlapping_mounts_both_written_back_keep_each_others_changes(
    ops: Path, tmp_path: Path
) -> None:
    """`--dir a/b::/y --dir a::/x`: the program reads and lists through /x what it changes
    through /y. The write-back of /x came after /y's and undid it: the file written
    through /y was rewritten with the bytes /x had read, and the file made through /y
    was deleted as an extra of a/b."""
    args = ["ls", "/x/b", "read", "/x/b/f", "write", "/y/f", "new", "write", "/y/made", "m",
            "write", "/x/top", "t"]  # fmt: skip
    for order in (["y", "x"], ["x", "y"]):
        a = tmp_path / "".join(order) / "a"
        (a / "b").mkdir(parents=True)
        (a / "b" / "f").write_bytes(b"old")
        hosts = {"x": f"{a}::/x", "y": f"{a / 'b'}::/y"}
        flags = [flag for name in order for flag in ("--dir", hosts[name])]
        result = cli("run", *flags, "--write-back", ops, *args)
        assert result.returncode == 0, result
        assert all(line.endswith(": OK") for line in ok_lines(result.stdout)), result.stdout
        assert tree(a) == {"b": None, "b/f": b"new", "b/made": b"m", "top": b"t"}, order


def test_two_loaded_files_alike_in_size_and_mtime_swapped_are_written_back(
    tmp_path: Path,
) -> None:
    """The check that leaves a file the program only read alone must tell the file listed
    at a name from another one of the same size and mtime that the program put there."""
    host = tmp_path / "tree"
    host.mkdir()
    (host / "a").write_bytes(b"AAAA")
    (host / "b").write_bytes(b"BBBB")
    os.utime(host / "b", ns=(0, (host / "a").stat().st_mtime_ns))
    with start_wasi() as wasi:
        wasi.mount_host_dir(host, "/m")
        assert wasi.read_file("/m/a") == b"AAAA" and wasi.read_file("/m/b") == b"BBBB"
        wasi.rename("/m/a", "/m/t")
        wasi.rename("/m/b", "/m/a")
        wasi.rename("/m/t", "/m/b")
        wasi.write_back_host_dir("/m")
    assert tree(host) == {"a": b"BBBB", "b": b"AAAA"}


def test_a_rewrite_that_keeps_the_size_and_sets_the_mtime_back_is_written_back(
    tmp_path: Path,
) -> None:
    """The file the program changed is told from the one it only read by its ctime too,
    which a program cannot set back."""
    host = tmp_path / "tree"
    host.mkdir()
    (host / "f").write_bytes(b"old")
    listed = (host / "f").stat()
    with start_wasi() as wasi:
        wasi.mount_host_dir(host, "/m")
        wasi.write_file("/m/f", b"new")
        wasi.set_times("/m/f", atime_ns=listed.st_atime_ns, mtime_ns=listed.st_mtime_ns)
        assert wasi.stat("/m/f").mtime_ns == listed.st_mtime_ns
        wasi.write_back_host_dir("/m")
    assert (host / "f").read_bytes() == b"new"


def test_write_back_goes_into_the_directory_mounted_not_what_its_path_names_now(
    tmp_path: Path,
) -> None:
    """The mounted directory renamed away on the host during the run, another made at its
    path: write-back went by the path, into the other directory, and deleted its file
    named as one the program removed. It now goes through the mount's own fd; a mounted
    directory that was removed is FileNotFoundError, nothing written."""
    host = tmp_path / "proj"
    host.mkdir()
    (host / "f").write_bytes(b"f")
    (host / "g").write_bytes(b"g")
    with start_wasi() as wasi:
        wasi.mount_host_dir(host, "/m")
        wasi.remove("/m/g")
        wasi.write_file("/m/new", b"n")
        host.rename(tmp_path / "moved")
        host.mkdir()
        (host / "g").write_bytes(b"someone else's")
        wasi.write_back_host_dir("/m")
    assert tree(host) == {"g": b"someone else's"}
    assert tree(tmp_path / "moved") == {"f": b"f", "new": b"n"}
    gone = tmp_path / "gone"
    gone.mkdir()
    with start_wasi() as wasi:
        wasi.mount_host_dir(gone, "/m")
        wasi.write_file("/m/new", b"n")
        gone.rmdir()
        with pytest.raises(FileNotFoundError) as caught:
            wasi.write_back_host_dir("/m")
        assert caught.value.filename == str(gone)
    assert not gone.exists()


def test_a_second_write_back_removes_what_the_first_made_and_the_program_removed_since(
    tmp_path: Path,
) -> None:
    """Only names the mount showed may be removed; names the first write-back made are
    known to the second, so what the program removed in between goes."""
    host = tmp_path / "tree"
    host.mkdir()
    (host / "old").write_bytes(b"o")
    with start_wasi() as wasi:
        wasi.mount_host_dir(host, "/m")
        wasi.write_file("/m/made", b"m")
        wasi.mkdir("/m/dir")
        wasi.write_file("/m/dir/inner", b"i")
        wasi.write_back_host_dir("/m")
        assert tree(host) == {"old": b"o", "made": b"m", "dir": None, "dir/inner": b"i"}
        wasi.remove("/m/made")
        wasi.rmtree("/m/dir")
        wasi.remove("/m/old")
        (host / "late").write_bytes(b"made on the host between the write-backs")
        wasi.write_back_host_dir("/m")
    assert tree(host) == {"late": b"made on the host between the write-backs"}


def test_a_file_moved_to_another_mount_survives_the_write_back_of_its_source_first(
    ops: Path, tmp_path: Path
) -> None:
    """`--dir x::/x --dir y::/y`, the program moves /x/f (never opened) to /y/f: x's
    write-back, first, removed x/f, and y's then could not read it (ENOENT): the file was
    lost on both sides. x's write-back now reads in first every lazy entry of its mount
    that the program moved anywhere, outside the mount too."""
    x, y = tmp_path / "x", tmp_path / "y"
    (x / "d" / "e").mkdir(parents=True)
    (x / "f").write_bytes(b"precious")
    (x / "d" / "e" / "g").write_bytes(b"deep")
    (x / "out").write_bytes(b"moved to a read-only mount")
    y.mkdir()
    (tmp_path / "t").mkdir()
    args = ["mv", "/x/f", "/y/f", "mv", "/x/d", "/y/d", "mv", "/x/out", "/t/out",
            "mv", "/x/out", "/y/out"]  # fmt: skip
    dirs = ["--dir", f"{x}::/x", "--dir", f"{y}::/y", "--ro-dir", f"{tmp_path / 't'}::/t"]
    result = cli("run", *dirs, "--write-back", ops, *args)
    assert result.returncode == 0, result
    assert ok_lines(result.stdout)[2] == "mv /x/out: errno 63"  # a read-only mount: EPERM
    assert tree(x) == {} and tree(tmp_path / "t") == {}
    assert tree(y) == {
        "f": b"precious", "d": None, "d/e": None, "d/e/g": b"deep",
        "out": b"moved to a read-only mount",
    }  # fmt: skip
    with start_wasi() as wasi:  # moved out of every mount: still readable after
        (x / "h").write_bytes(b"h")
        wasi.mount_host_dir(x, "/x")
        wasi.mkdir("/elsewhere")
        wasi.rename("/x/h", "/elsewhere/h")
        wasi.write_back_host_dir("/x")
        assert tree(x) == {}
        assert wasi.read_file("/elsewhere/h") == b"h"


def test_each_dir_is_written_back_into_its_own_host_directory(ops: Path, tmp_path: Path) -> None:
    """The CLI opened the --write-back targets in mount order (enclosing guests first) and
    paired them with the --dirs in command-line order: with `--dir p::/a --dir q::/a/sub
    --dir r::/b`, /a/sub was written into r and /b into q (with the mirroring write-back,
    everything else in r was deleted). Found by the host fuzzer once write-back stopped
    mirroring."""
    p, q, r = tmp_path / "p", tmp_path / "q", tmp_path / "r"
    for host in (p, q, r):
        host.mkdir()
    (r / "precious").write_bytes(b"r")
    dirs = ["--dir", f"{p}::/a", "--dir", f"{q}::/a/sub", "--dir", f"{r}::/b"]
    args = ["write", "/a/sub/in-q", "q", "write", "/b/in-r", "r", "write", "/a/in-p", "p"]
    result = cli("run", *dirs, "--write-back", ops, *args)
    assert result.returncode == 0, result
    assert tree(p) == {"in-p": b"p"}
    assert tree(q) == {"in-q": b"q"}
    assert tree(r) == {"precious": b"r", "in-r": b"r"}
