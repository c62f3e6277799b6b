"""Hostile guests and bad host input (issue 6, items 1 and 8).

* Every guest pointer and length is checked: out-of-range iovecs, strings, output structs,
  readdir buffers and pointer + length overflowing 2^32 give EFAULT (with both copy paths:
  the multi-memory bridge and the Python fallback), the program keeps running and the
  filesystem does not change. NUL and invalid UTF-8 in paths give wasmtime's errnos.
* The host API and the CLI answer wrong types, missing files, non-UTF-8 names, paths outside
  the VFS, corrupt or non-WASI modules and modules whose imports cannot be satisfied with one
  clear exception or one-line message (exit 2), never a traceback from inside wasmtime, and
  never a half-changed filesystem.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import wasmtime

import wasi_wasm
from cli_run import assert_usage_error, cli
from differential import first_difference, run_wasi_wasm, run_wasmtime
from wasi_wasm import Limits, ProgramError, Wasi

KNOWN = b"the known content"


def snapshot(wasi: Wasi, directory: str = "/") -> dict[str, bytes]:
    """Every path below ``directory`` with its content (directories: b"/")."""
    result: dict[str, bytes] = {}
    for name in wasi.listdir(directory):
        path = f"{directory.rstrip('/')}/{name}"
        info = wasi.lstat(path)
        if info.is_dir:
            result[path] = b"/"
            result.update(snapshot(wasi, path))
        elif info.is_symlink:
            result[path] = b"-> " + wasi.readlink(path).encode("utf-8", "surrogateescape")
        else:
            result[path] = wasi.read_file(path)
    return result


@pytest.fixture
def fs() -> Iterator[Wasi]:
    """A filesystem with a few known entries, checked unchanged and healthy afterwards."""
    with wasi_wasm.start_wasi(preopens={}) as wasi:
        wasi.write_file("/known", KNOWN)
        wasi.mkdir("/dir/sub", parents=True)
        wasi.symlink("../known", "/dir/link")
        before = snapshot(wasi)
        yield wasi
        assert snapshot(wasi) == before
        assert wasi.fsck() == 0


# -- 1. guest pointers --------------------------------------------------------------------------
@pytest.mark.parametrize("bridge", [True, False], ids=["bridge", "python-copy"])
def test_every_bad_pointer_gives_efault(
    wasm_program: Callable[..., Path], fs: Wasi, bridge: bool
) -> None:
    fs.mkdir("/box")
    result = fs.run(wasm_program("harden_pointers"), preopens={"/sandbox": "/box"}, bridge=bridge)
    text = result.stdout.decode()
    assert "MISMATCH" not in text, text
    assert result.exit_code == 0, text + result.stderr.decode()
    assert text.count(": EFAULT") >= 90, "the program did not get through its checks"
    assert "known file intact after everything" in text
    assert fs.read_file("/box/known") == KNOWN
    assert fs.read_file("/box/f") == b"ok23456789"
    fs.rmtree("/box")


def test_invalid_paths_get_wasmtimes_errnos(wasm_program: Callable[..., Path]) -> None:
    program = wasm_program("harden_paths")
    reference = run_wasmtime(program)
    ours = run_wasi_wasm(program)
    assert reference.exit_code == 0, reference.stdout.decode()
    assert ours.stdout == reference.stdout, first_difference(reference.stdout, ours.stdout)
    assert ours.exit_code == 0
    assert b": EILSEQ" in ours.stdout and b": EINVAL" in ours.stdout


# -- 8. host API input ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda w: w.write_file(5, b"x"), TypeError, "VFS path must be a str, not int"),
        (lambda w: w.write_file(b"/x", b"x"), TypeError, "not bytes"),
        (lambda w: w.write_file("/x", "text"), TypeError, "bytes-like"),
        (lambda w: w.write_file("/x", None), TypeError, "bytes-like"),
        (lambda w: w.write_file("relative", b"x"), ValueError, "absolute"),
        (lambda w: w.read_file(None), TypeError, "not NoneType"),
        (lambda w: w.mkdir(Path("/p")), TypeError, "not PosixPath"),
        (lambda w: w.rename("/known", 7), TypeError, "not int"),
        (lambda w: w.symlink(3, "/s"), TypeError, "symlink target must be a str, not int"),
        (lambda w: w.write_file("/\ud800", b"x"), UnicodeEncodeError, "surrogates not allowed"),
        (lambda w: w.read_file("/missing"), FileNotFoundError, "/missing"),
        (lambda w: w.read_file("/dir"), IsADirectoryError, "/dir"),
        (lambda w: w.listdir("/known"), NotADirectoryError, "/known"),
        (lambda w: w.remove("/dir"), IsADirectoryError, "/dir"),
        (lambda w: w.rmdir("/dir"), OSError, "Directory not empty"),
        (lambda w: w.mkdir("/dir"), FileExistsError, "/dir"),
        (lambda w: w.mkdir("/no/such/parent"), FileNotFoundError, "/no/such/parent"),
        (lambda w: w.rename("/missing", "/x"), FileNotFoundError, "/missing"),
        (lambda w: w.read_file("/../../../etc/passwd"), PermissionError, "/../../../etc/passwd"),
        (lambda w: w.write_file("/../escape", b"x"), PermissionError, "/../escape"),
        (lambda w: w.stat("/dir/../../.."), PermissionError, "not permitted"),
        (lambda w: w.write_file("/dir/link/x", b"x"), NotADirectoryError, "/dir/link/x"),
        (lambda w: w.copy_in_tree("/nonexistent/host/dir", "/copied"), FileNotFoundError,
         "/nonexistent/host/dir"),
    ],
)  # fmt: skip
def test_bad_host_api_calls_raise_clear_errors(
    fs: Wasi, call: Callable[[Wasi], object], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words.replace("(", r"\(").replace(".", r"\.")):
        call(fs)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"args": "one string"}, TypeError, "sequence of strings"),
        ({"args": [1, 2]}, TypeError, "must be str or bytes, not int"),
        ({"args": ["a\0b"]}, ValueError, "NUL"),
        ({"env": [("A", "B")]}, TypeError, "mapping"),
        ({"env": {"A=B": "x"}}, ValueError, "environment variable name"),
        ({"env": {"": "x"}}, ValueError, "environment variable name"),
        ({"env": {"A": 5}}, TypeError, "not int"),
        ({"preopens": {"/g": 5}}, TypeError, "not int"),
        ({"preopens": {"/g": "relative"}}, ValueError, "absolute"),
        ({"preopens": {7: "/"}}, TypeError, "guest name"),
        ({"limits": 5}, TypeError, "Limits"),
    ],
)
def test_bad_process_options_raise_before_anything_changes(
    fs: Wasi, kwargs: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        fs.copy_for_rebinding(**kwargs)
    with pytest.raises(error, match=words):
        wasi_wasm.start_wasi(fs.init_obj(), **kwargs)


def _module(wat: str) -> bytes:
    return bytes(wasmtime.wat2wasm(wat))


START = '(memory (export "memory") 1) (func (export "_start"))'
BAD_PROGRAMS = {
    "not wasm": (b"#!/bin/sh\necho hi\n", "not a WebAssembly module"),
    "truncated": (_module(f"(module {START})")[:-3], "invalid WebAssembly module"),
    "component": (b"\0asm\x0d\0\x01\0", "component"),
    "imports env": (_module(f'(module (import "env" "f" (func)) {START})'), "env.f"),
    "unknown WASI function": (
        _module(f'(module (import "wasi_snapshot_preview1" "fd_teleport" (func)) {START})'),
        "unknown WASI function fd_teleport",
    ),
    "WASI function with the wrong type": (
        _module(
            '(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32) (result i32)))'
            f" {START})"
        ),
        r"fd_write with the wrong type \(i32\) -> \(i32\), expected \(i32, i32, i32, i32\)",
    ),
    "proc_exit returning a value": (
        _module(
            '(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32) (result i32)))'
            f" {START})"
        ),
        "proc_exit with the wrong type",
    ),
    "imports a memory": (
        _module(f'(module (import "wasi_snapshot_preview1" "memory" (memory 1)) {START})'),
        "not a WASI preview 1 function",
    ),
    "no _start": (_module('(module (memory (export "memory") 1))'), "no _start"),
    "no memory export": (_module('(module (func (export "_start")))'), "memory"),
}


@pytest.mark.parametrize("name", sorted(BAD_PROGRAMS))
def test_bad_modules_raise_program_error(fs: Wasi, name: str) -> None:
    data, words = BAD_PROGRAMS[name]
    with pytest.raises(ProgramError, match=words):
        fs.run(data)
    with pytest.raises(ProgramError, match=words):
        wasi_wasm.load_program(data)


def test_program_of_the_wrong_type_is_a_type_error(fs: Wasi) -> None:
    with pytest.raises(TypeError, match="int"):
        fs.run(12345)  # type: ignore[arg-type]


def test_trap_in_the_start_function_leaves_the_filesystem_usable(fs: Wasi) -> None:
    trapping = _module('(module (memory (export "memory") 1) (func (export "_start") unreachable))')
    with pytest.raises(wasmtime.Trap, match="unreachable"):
        fs.run(trapping)
    assert fs.read_file("/known") == KNOWN


def test_non_utf8_host_names_are_refused_before_anything_is_copied(
    fs: Wasi, tmp_path: Path
) -> None:
    """WASI paths are UTF-8 (the core answers EILSEQ otherwise, as wasmtime): a host tree
    with a Latin-1 name is refused, naming that file, and nothing of it is copied."""
    host = tmp_path / "in"
    (host / "a-first").mkdir(parents=True)
    (host / "a-first" / "ok.txt").write_bytes(b"fine")
    bad = host / os.fsdecode(b"caf\xe9")  # as os.listdir gives it: "caf\udce9"
    bad.write_bytes(b"latin")
    with pytest.raises(OSError, match="not valid UTF-8") as failure:
        fs.copy_in_tree(host, "/copied")
    assert failure.value.errno == errno.EILSEQ
    assert failure.value.filename == str(bad)
    assert not fs.exists("/copied")
    with pytest.raises(OSError) as direct:
        fs.write_file(os.fsdecode(b"/caf\xe9"), b"x")
    assert direct.value.errno == errno.EILSEQ


def test_non_utf8_arguments_and_environment_reach_the_program(
    wasm_program: Callable[..., Path],
) -> None:
    arg = os.fsdecode(b"\xff\xfe-arg")
    result = wasi_wasm.run(wasm_program("api_tool"), ["args", arg, b"\x80bytes"],
                           env={"RAW": os.fsdecode(b"v\xe9")})  # fmt: skip
    assert b"argv[2]=\xff\xfe-arg\n" in result.stdout
    assert b"argv[3]=\x80bytes\n" in result.stdout
    env = wasi_wasm.run(
        wasm_program("api_tool"), ["getenv", "RAW"], env={"RAW": os.fsdecode(b"v\xe9")}
    )
    assert env.stdout == b"v\xe9\n"


def test_copy_in_of_a_missing_tree_creates_nothing(fs: Wasi, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fs.copy_in_tree(tmp_path / "missing", "/new/place")
    assert not fs.exists("/new")


def test_host_tree_with_absolute_symlinks_is_refused_clearly(fs: Wasi, tmp_path: Path) -> None:
    """path_symlink refuses absolute targets (as wasmtime), so such a tree cannot be copied:
    the error names the link, and nothing is copied."""
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "file").write_bytes(b"x")
    os.symlink("/etc/passwd", tmp_path / "tree" / "sub" / "abs")
    with pytest.raises(PermissionError, match="absolute symlink") as failure:
        fs.copy_in_tree(tmp_path / "tree", "/tree")
    assert failure.value.filename == str(tmp_path / "tree" / "sub" / "abs")
    assert not fs.exists("/tree")


def test_errors_carry_errno_and_path(fs: Wasi) -> None:
    with pytest.raises(OSError) as failure:
        fs.rename("/known", "/dir/sub")
    assert failure.value.errno == errno.EISDIR
    assert (failure.value.filename, failure.value.filename2) == ("/known", "/dir/sub")


# -- 8. CLI input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["WASI function with the wrong type", "imports env", "truncated", "component"]
)
def test_cli_bad_modules(tmp_path: Path, name: str) -> None:
    data, _words = BAD_PROGRAMS[name]
    program = tmp_path / "bad.wasm"
    program.write_bytes(data)
    assert_usage_error(cli("run", program), "bad.wasm")


def test_cli_passes_non_utf8_arguments_and_environment_through(
    wasm_program: Callable[..., Path],
) -> None:
    tool = wasm_program("api_tool")
    args = cli("run", tool, "--", "args", b"\xff\xfe")
    assert args.returncode == 0, args.stderr.decode()
    assert b"argv[2]=\xff\xfe\n" in args.stdout
    env = cli("run", "--env", b"K=\xe9", tool, "--", "getenv", "K")
    assert env.stdout == b"\xe9\n", env.stderr.decode()


def test_cli_dir_leaves_out_a_host_name_that_is_not_utf8(
    wasm_program: Callable[..., Path], tmp_path: Path
) -> None:
    """--dir mounts lazily (_lazy_host.py): a host name the VFS cannot hold is left out of
    its directory's listing (copy_in_tree refuses the whole tree instead)."""
    box = tmp_path / "box"
    box.mkdir()
    (box / os.fsdecode(b"n\xe9")).write_bytes(b"x")
    (box / "ok").write_bytes(b"y")
    result = cli("run", "--dir", f"{box}::/box", wasm_program("api_tool"), "--", "ls", "/box")
    assert result.returncode == 0, result
    assert result.stdout == b"ok\n"


def test_cli_dir_with_an_absolute_symlink_shows_it_and_never_follows_it(
    wasm_program: Callable[..., Path], tmp_path: Path
) -> None:
    """A host symlink shows as a symlink with its target text; an absolute one leads nowhere
    (EPERM, as any absolute symlink in a preopen), and --write-back leaves it as it was."""
    box = tmp_path / "box"
    box.mkdir()
    os.symlink("/etc/passwd", box / "abs")
    result = cli("run", "--dir", f"{box}::/box", "--write-back", wasm_program("api_tool"), "--",
                 "write", "/box/new", "x")  # fmt: skip
    assert result.returncode == 0, result
    assert sorted(os.listdir(box)) == ["abs", "new"]
    assert os.readlink(box / "abs") == "/etc/passwd"
    result = cli("run", "--dir", f"{box}::/box", wasm_program("api_tool"), "--", "read", "/box/abs")
    assert result.returncode == 1 and b"root:" not in result.stdout, result


def test_cli_dir_that_is_a_file(wasm_program: Callable[..., Path], tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    assert_usage_error(
        cli("run", "--dir", f"{tmp_path / 'file'}::/x", wasm_program("api_tool")),
        "not a directory",
    )


def test_limits_keyword_is_validated_by_run(wasm_program: Callable[..., Path]) -> None:
    with pytest.raises(TypeError, match="Limits"):
        wasi_wasm.run(wasm_program("api_tool"), ["args"], limits="small")  # type: ignore[arg-type]
    result = wasi_wasm.run(wasm_program("api_tool"), ["args"], limits=Limits(max_fds=8))
    assert result.exit_code == 0
