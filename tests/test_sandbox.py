"""The sandbox (issue 6, item 3): nothing reaches outside a preopen -- `..`, absolute paths,
symlinks (relative, absolute, chains, loops, dangling), hard links, renames, directory fds
whose directory is renamed or moved out while open -- and no program can use another
program's fds. A file with "SECRET" in it sits next to the preopened directory; the programs
must never read it, and the filesystem outside the preopen must not change."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import wasmtime

import wasi_wasm
from differential import first_difference, run_wasmtime
from wasi_wasm import Wasi

SECRET = b"TOP SECRET: nobody inside the sandbox may read this\n"
# (Absolute targets cannot be created in the VFS: path_symlink refuses them, as wasmtime.)
HOST_SYMLINKS = {"up": "../secret.txt", "up2": "../../secret.txt", "chain": "up",
                 "inner/up": "../up"}  # fmt: skip


@pytest.fixture(scope="module")
def sandbox_program(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("harden_sandbox")


def build_vfs(wasi: Wasi) -> None:
    """/secret.txt and /other/secret2.txt outside; /box (the preopen) inside."""
    wasi.write_file("/secret.txt", SECRET)
    wasi.mkdir("/other")
    wasi.write_file("/other/secret2.txt", SECRET)
    wasi.mkdir("/box/inner/deep", parents=True)
    wasi.write_file("/box/f", b"inside")
    for link, target in HOST_SYMLINKS.items():
        wasi.symlink(target, f"/box/{link}")


def build_host(root: Path) -> Path:
    """The same layout on the host, for wasmtime; returns the directory to preopen."""
    (root / "secret.txt").write_bytes(SECRET)
    box = root / "box"
    (box / "inner" / "deep").mkdir(parents=True)
    (box / "f").write_bytes(b"inside")
    for link, target in HOST_SYMLINKS.items():
        os.symlink(target, box / link)
    return box


def outside_snapshot(wasi: Wasi) -> dict[str, bytes]:
    """Everything outside /box: names and file contents."""
    snapshot: dict[str, bytes] = {}

    def walk(directory: str) -> None:
        for name in wasi.listdir(directory):
            path = f"{directory.rstrip('/')}/{name}"
            if path == "/box":
                continue
            info = wasi.lstat(path)
            if info.is_dir:
                snapshot[path + "/"] = b""
                walk(path)
            elif info.is_symlink:
                snapshot[path] = b"-> " + wasi.readlink(path).encode()
            else:
                snapshot[path] = wasi.read_file(path)

    walk("/")
    return snapshot


@pytest.fixture
def vfs() -> Iterator[Wasi]:
    with wasi_wasm.start_wasi(preopens={}) as wasi:
        build_vfs(wasi)
        before = outside_snapshot(wasi)
        yield wasi
        assert outside_snapshot(wasi) == before
        assert wasi.read_file("/secret.txt") == SECRET
        assert wasi.fsck() == 0


def assert_no_leak(result: wasi_wasm.RunResult) -> None:
    text = result.stdout.decode()
    assert "SECRET" not in text and "LEAK" not in text, text
    assert "MISMATCH" not in text, text
    assert result.exit_code == 0, text + result.stderr.decode()


def test_escapes_fail_as_under_wasmtime(sandbox_program: Path, vfs: Wasi) -> None:
    result = vfs.run(sandbox_program, ["basic"], preopens={"/sandbox": "/box"})
    assert_no_leak(result)
    with tempfile.TemporaryDirectory(prefix="wasi-sandbox-") as tmp:
        box = build_host(Path(tmp))
        reference = run_wasmtime(sandbox_program, ["basic"], sandbox=box)
        assert (Path(tmp) / "secret.txt").read_bytes() == SECRET
        assert sorted(os.listdir(tmp)) == ["box", "secret.txt"]
    assert reference.exit_code == 0, reference.stdout.decode()
    assert result.stdout == reference.stdout, first_difference(reference.stdout, result.stdout)


def test_directory_moved_out_of_the_preopen_while_open(sandbox_program: Path, vfs: Wasi) -> None:
    """The host (another process on the filesystem) moves /box/inner to /outside_inner while
    the program holds an fd on it: the fd keeps naming that directory, and nothing above it
    is reachable."""
    mover = vfs.copy_for_rebinding(preopens={})
    moved: list[bool] = []

    class Trigger:
        def read(self, size: int = -1) -> bytes:
            del size
            if not moved:
                mover.rename("/box/inner", "/outside_inner")
                moved.append(True)
            return b"x"

    with mover:
        result = vfs.run(sandbox_program, ["moved"], stdin=Trigger(), preopens={"/sandbox": "/box"})
        assert moved == [True]
        assert_no_leak(result)
        # The program could not create anything outside either.
        assert sorted(vfs.listdir("/outside_inner")) == ["deep", "s", "up"]
        mover.rename("/outside_inner", "/box/inner")


def test_a_program_cannot_use_another_programs_fds(
    sandbox_program: Path, wasm_program: Callable[..., Path], vfs: Wasi
) -> None:
    """Process A holds fds on files outside B's preopen (its program ended, the process did
    not); B, on the same filesystem and in the same Store, finds no fd but its own."""
    driver, _name = wasi_wasm.load_program(wasm_program("fuzz_driver"))
    holder = vfs.copy_for_rebinding(
        args=["fuzz_driver.wasm"],
        stdin=b"open 0 . secret.txt 0 2 0 0\nopen 1 . other 2 16386 0 0\n"
        b"open 2 . box 2 16386 0 0\n",
        preopens={"/": "/"},
    )
    with holder:
        instance = wasmtime.Instance(holder.store, driver, holder.imports_for(driver))
        assert holder.start(instance) == 0
        assert holder.stdout == b"OK\nOK\nOK\n"  # fds 4, 5 and 6 stay open in process A
        result = vfs.run(sandbox_program, ["fds"], preopens={"/sandbox": "/box"})
        assert_no_leak(result)
        assert b"open fds among 0..4095 (stdio + preopen): 4" in result.stdout


def test_fds_stay_private_between_threads(sandbox_program: Path, vfs: Wasi) -> None:
    """Several threads on one filesystem, each with fds open, scan every fd number."""
    init = vfs.init_obj()
    errors: list[BaseException] = []
    outputs: list[bytes] = []
    ready = threading.Barrier(4)

    def scanner() -> None:
        try:
            with (
                wasi_wasm.start_wasi(init, preopens={}) as mine,
                mine.copy_for_rebinding(preopens={"/": "/other"}),  # holds fd 3
            ):
                ready.wait(timeout=60)
                result = mine.run(sandbox_program, ["fds"], preopens={"/sandbox": "/box"})
                outputs.append(result.stdout)
                assert_no_leak(result)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=scanner) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(outputs) == 4
