"""Limits (issue 6, item 2): ENOSPC, EMFILE, ENAMETOOLONG and ELOOP where the host's Limits
say, with existing data intact, nothing half-created, freed room usable again, and fsck
clean after each; configurable from Python and from the CLI."""

from __future__ import annotations

import dataclasses
import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import wasi_wasm
from cli_run import cli
from differential import first_difference, run_wasi_wasm, run_wasmtime
from wasi_wasm import Limits

BOX = "/sandbox"


@pytest.fixture(scope="module")
def limits_program(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("harden_limits")


def run_section(
    program: Path, args: list[str], limits: Limits | None, *, preset: bytes = b""
) -> tuple[wasi_wasm.RunResult, int, wasi_wasm.Wasi]:
    """Run harden_limits ARGS with ``limits`` on a fresh filesystem; (result, fsck, wasi).
    The caller closes the Wasi."""
    wasi = wasi_wasm.start_wasi(limits=limits, preopens={})
    wasi.mkdir(BOX)
    if preset:
        wasi.write_file("/outside.bin", preset)
    result = wasi.run(program, args, preopens={BOX: BOX}, limits=limits)
    return result, wasi.fsck(), wasi


def assert_clean(result: wasi_wasm.RunResult, problems: int) -> None:
    assert b"MISMATCH" not in result.stdout, result.stdout.decode()
    assert result.exit_code == 0, result.stdout.decode() + result.stderr.decode()
    assert problems == 0


# -- the Limits object ----------------------------------------------------------------------------
def test_defaults_are_documented_values() -> None:
    limits = Limits()
    assert limits.max_fs_bytes == 1 << 30
    assert limits.max_fds == 1024
    assert limits.max_path == 4095
    assert limits.max_name == 255
    assert limits.max_symlink_follows == 40
    assert "1 GiB" in (Limits.__doc__ or "")


@pytest.mark.parametrize(
    ("field", "value", "error", "words"),
    [
        ("max_fs_bytes", 1000, ValueError, "between 1048576"),
        ("max_fs_bytes", (1 << 32) + 1, ValueError, "max_fs_bytes"),
        ("max_fs_bytes", "1G", TypeError, "must be an int, not str"),
        ("max_fds", 2, ValueError, "between 3 and 65536"),
        ("max_fds", 1.5, TypeError, "not float"),
        ("max_fds", True, TypeError, "not bool"),
        ("max_path", 4097, ValueError, "max_path"),
        ("max_name", 0, ValueError, "max_name"),
        ("max_symlink_follows", 41, ValueError, "between 1 and 40"),
    ],
)
def test_bad_limits_are_refused_by_name(
    field: str, value: object, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        Limits(**{field: value})  # type: ignore[arg-type]


def test_limits_must_be_a_limits_object() -> None:
    with pytest.raises(TypeError, match=r"wasi_wasm\.Limits"):
        wasi_wasm.start_wasi(limits={"max_fds": 5})  # type: ignore[arg-type]


def test_no_limit_on_the_filesystem_size() -> None:
    with wasi_wasm.start_wasi(limits=Limits(max_fs_bytes=None)) as wasi:
        wasi.write_file("/f", b"x" * (3 << 20))
        assert wasi.stat("/f").size == 3 << 20


# -- ENOSPC ----------------------------------------------------------------------------------------
def test_enospc_keeps_data_and_freed_room_is_reused(limits_program: Path) -> None:
    limits = Limits(max_fs_bytes=4 << 20)
    preset = os.urandom(300_000)
    result, problems, wasi = run_section(limits_program, ["space"], limits, preset=preset)
    with wasi:
        assert_clean(result, problems)
        assert wasi.used_bytes() <= limits.max_fs_bytes  # type: ignore[operator]
        # Data written before the filesystem filled up, outside the program's preopen too.
        assert wasi.read_file("/outside.bin") == preset
        assert wasi.read_file(f"{BOX}/known") == b"data written before the filesystem filled up"


def test_host_writes_hit_the_same_limit() -> None:
    with wasi_wasm.start_wasi(limits=Limits(max_fs_bytes=2 << 20)) as wasi:
        wasi.write_file("/keep", b"keep me")
        with pytest.raises(OSError, match="No space") as failure:
            wasi.write_file("/big", bytes(4 << 20))
        assert failure.value.errno == errno.ENOSPC
        assert failure.value.filename == "/big"
        assert wasi.read_file("/keep") == b"keep me"
        assert not wasi.exists("/big")  # the file the failed call created is gone again
        assert wasi.fsck() == 0
        wasi.write_file("/big", bytes(1 << 20))  # room again
        assert wasi.stat("/big").size == 1 << 20
        assert wasi.fsck() == 0


def test_a_full_filesystem_can_be_checked_listed_and_cleaned() -> None:
    """fsck's walk and the host's buffers come from a reserve outside the byte budget."""
    with wasi_wasm.start_wasi(limits=Limits(max_fs_bytes=1 << 20)) as wasi:
        wasi.mkdir("/full/deep/er", parents=True)
        names = []
        with pytest.raises(OSError) as full:
            for index in range(100_000):
                size = 20_000 if index < 40 else 1  # big files first, then fill every crumb
                wasi.write_file(f"/full/deep/er/f{index}", bytes(size))
                names.append(f"f{index}")
        assert full.value.errno == errno.ENOSPC
        with pytest.raises(OSError) as no_dir:  # then fill the crumbs with empty directories
            for index in range(100_000):
                wasi.mkdir(f"/full/deep/er/d{index}")
                names.append(f"d{index}")
        assert no_dir.value.errno == errno.ENOSPC
        assert wasi.fsck() == 0
        assert sorted(wasi.listdir("/full/deep/er")) == sorted(names)
        assert wasi.read_file("/full/deep/er/f0") == bytes(20_000)
        wasi.rmtree("/full")
        assert wasi.listdir("/") == []
        assert wasi.fsck() == 0
        wasi.write_file("/again", bytes(500_000))
        assert wasi.stat("/again").size == 500_000


def test_no_room_to_start_a_process_is_a_clear_error() -> None:
    with wasi_wasm.start_wasi(limits=Limits(max_fs_bytes=1 << 20)) as wasi:
        with pytest.raises(OSError) as full:
            for index in range(100):
                wasi.write_file(f"/f{index}", bytes(100_000))
        assert full.value.errno == errno.ENOSPC
        with pytest.raises(OSError):  # and the last 64 KiB (a process's stack) with crumbs
            for index in range(100):
                wasi.write_file(f"/crumb{index}", bytes(8_000))
        with pytest.raises(OSError) as failure:
            wasi.copy_for_rebinding().close()
        assert failure.value.errno == errno.ENOMEM
        assert wasi.fsck() == 0
        assert wasi.read_file("/f0") == bytes(100_000)
        wasi.remove("/f0")
        wasi.remove("/f1")
        wasi.copy_for_rebinding().close()  # room again


# -- EMFILE ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("max_fds", [5, 16, 1024])
def test_emfile_at_max_fds(limits_program: Path, max_fds: int) -> None:
    limits = Limits(max_fds=max_fds)
    result, problems, wasi = run_section(limits_program, ["fds", str(max_fds)], limits)
    with wasi:
        assert_clean(result, problems)


def test_max_fds_is_per_process(limits_program: Path) -> None:
    """A process started without limits on the same filesystem keeps the default fd limit."""
    with wasi_wasm.start_wasi(limits=Limits(max_fds=8)) as wasi:
        wasi.mkdir(BOX)
        tight = wasi.run(
            limits_program, ["fds", "8"], preopens={BOX: BOX}, limits=Limits(max_fds=8)
        )
        roomy = wasi.run(limits_program, ["fds", "1024"], preopens={BOX: BOX})
        assert tight.exit_code == 0, tight.stdout.decode()
        assert roomy.exit_code == 0, roomy.stdout.decode()
        assert wasi.fsck() == 0


# -- ENAMETOOLONG and ELOOP ------------------------------------------------------------------------
@pytest.mark.parametrize("args", [["names", "255", "4095"], ["loop", "40"]])
def test_default_name_path_and_symlink_limits_match_wasmtime(
    limits_program: Path, args: list[str]
) -> None:
    reference = run_wasmtime(limits_program, args)
    ours = run_wasi_wasm(limits_program, args)
    assert reference.exit_code == 0, reference.stdout.decode()
    assert ours.stdout == reference.stdout, first_difference(reference.stdout, ours.stdout)
    assert ours.exit_code == 0


@pytest.mark.parametrize(
    ("args", "limits"),
    [
        (["names", "16", "100"], Limits(max_name=16, max_path=100)),
        (["names", "8", "31"], Limits(max_name=8, max_path=31)),
        (["names", "255", "4096"], Limits(max_path=4096)),
        (["loop", "5"], Limits(max_symlink_follows=5)),
        (["loop", "1"], Limits(max_symlink_follows=1)),
    ],
)
def test_configured_name_path_and_symlink_limits(
    limits_program: Path, args: list[str], limits: Limits
) -> None:
    result, problems, wasi = run_section(limits_program, args, limits)
    with wasi:
        assert_clean(result, problems)


def test_filesystem_limits_are_shared_by_every_process_on_it(limits_program: Path) -> None:
    """max_name and friends belong to the filesystem: a process started later without
    limits, or from another Store (start_wasi(init)), sees them too."""
    limits = Limits(max_name=16, max_path=100, max_symlink_follows=5)
    with wasi_wasm.start_wasi(limits=limits) as wasi:
        wasi.mkdir(BOX)
        later = wasi.run(limits_program, ["names", "16", "100"], preopens={BOX: BOX})
        assert later.exit_code == 0, later.stdout.decode()
        with wasi_wasm.start_wasi(wasi.init_obj(), preopens={}) as other:
            other.mkdir("/loop")
            looped = other.run(limits_program, ["loop", "5"], preopens={BOX: "/loop"})
            assert looped.exit_code == 0, looped.stdout.decode()
        with pytest.raises(OSError) as failure:
            wasi.write_file("/" + "n" * 17, b"")
        assert failure.value.errno == errno.ENAMETOOLONG
        assert wasi.fsck() == 0


def test_limits_can_be_raised_again() -> None:
    with wasi_wasm.start_wasi(limits=Limits(max_name=8)) as wasi:
        with pytest.raises(OSError):
            wasi.write_file("/" + "n" * 9, b"")
        with wasi.copy_for_rebinding(limits=dataclasses.replace(Limits(), max_name=255)):
            wasi.write_file("/" + "n" * 9, b"")
        assert wasi.exists("/" + "n" * 9)


# -- the CLI ---------------------------------------------------------------------------------------
def test_cli_limits_reach_the_program(limits_program: Path, tmp_path: Path) -> None:
    (tmp_path / "box").mkdir()
    result = cli(
        "run", "--dir", f"{tmp_path / 'box'}::{BOX}", "--max-fs-bytes", "3M", "--max-fds", "9",
        limits_program, "--", "fds", "9",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    space = cli(
        "run", "--dir", f"{tmp_path / 'box'}::{BOX}", "--max-fs-bytes", "3MiB", limits_program,
        "--", "space",
    )  # fmt: skip
    assert space.returncode == 0, space.stdout.decode() + space.stderr.decode()
    assert b"create files until none fits: ENOSPC" in space.stdout


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--max-fs-bytes", "lots"], "--max-fs-bytes expects a size"),
        (["--max-fs-bytes", "100K"], "--max-fs-bytes must be between 1048576"),
        (["--max-fds", "-3"], "--max-fds expects a number"),
        (["--max-fds", "70000"], "--max-fds must be between 3 and 65536"),
    ],
)
def test_cli_bad_limits_are_one_line_errors(
    limits_program: Path, options: list[str], words: str
) -> None:
    result = cli("run", *options, limits_program, "--", "fds", "9")
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wasi-wasm: error: ") and words in lines[0], lines


def test_cli_tree_larger_than_the_limit_loads_only_what_is_touched(
    wasm_program: Callable[..., Path], tmp_path: Path
) -> None:
    """--dir mounts lazily: a tree larger than --max-fs-bytes runs as long as the program
    touches less; a file that does not fit is ENOSPC (51) when the program opens it, and
    --write-back rewrites nothing the program did not change."""
    box = tmp_path / "box"
    box.mkdir()
    (box / "small.txt").write_bytes(b"small")
    (box / "big.bin").write_bytes(bytes(2 << 20))
    before = {p.name: p.stat().st_mtime_ns for p in box.iterdir()}
    result = cli(
        "run", "--dir", f"{box}::{BOX}", "--max-fs-bytes", "1M", "--write-back",
        wasm_program("lazy_ops"), "--", "read", f"{BOX}/small.txt", "read", f"{BOX}/big.bin",
    )  # fmt: skip
    assert result.returncode == 0, result
    assert result.stdout.decode().splitlines() == [
        f"read {BOX}/small.txt: OK", "  [small] 5 bytes", f"read {BOX}/big.bin: errno 51",
    ]  # fmt: skip
    assert {p.name: p.stat().st_mtime_ns for p in box.iterdir()} == before


