"""Memory properties of the VFS (issue 5): small metadata, freed memory reused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import wasi_wasm

FILES = 10_000


def test_an_empty_file_costs_under_256_bytes(wasm_program: Callable[..., Path]) -> None:
    with wasi_wasm.start_wasi() as wasi:
        wasi.mkdir("/d")
        before = wasi.used_bytes()
        result = wasi.run(wasm_program("mass_files"), ["create", "/d", str(FILES)])
        assert result.exit_code == 0, result.stderr
        per_file = (wasi.used_bytes() - before) / FILES
        assert len(wasi.listdir("/d")) == FILES
        assert 0 < per_file < 256, f"{per_file:.0f} bytes per empty file"
        assert wasi.fsck() == 0


def test_truncating_a_sparse_file_frees_its_far_chunks(wasm_program: Callable[..., Path]) -> None:
    # Chunks at 1 TiB and 1 TiB + 1 MiB lie among 16 Mi empty slots; every truncation must
    # find and free both, and give back the slot array (64 MiB in wasm32).
    program = wasm_program("mass_files")
    with wasi_wasm.start_wasi() as wasi:
        assert wasi.run(program, ["sparse", "/far", "1"]).exit_code == 0  # the root's own room
        before = wasi.used_bytes()
        result = wasi.run(program, ["sparse", "/far", "4"])
        assert result.exit_code == 0, result.stderr
        assert wasi.used_bytes() == before
        assert wasi.fsck() == 0


def test_a_byte_far_out_costs_what_it_holds(wasm_program: Callable[..., Path]) -> None:
    # One byte at 1 TiB: a 64 KiB top array, a 4 KiB leaf and the 64 KiB chunk (a dense slot
    # array, one slot per 64 KiB of offset doubled past it, took 128 MiB). At the largest
    # offset the top array is 1 MiB. A truncation gives all of it back.
    program = wasm_program("mass_files")
    largest = (1 << 44) - 4096
    with wasi_wasm.start_wasi() as wasi:
        assert wasi.run(program, ["poke", "/far", "0"]).exit_code == 0
        assert wasi.run(program, ["cut", "/far", "0"]).exit_code == 0
        empty = wasi.used_bytes()
        assert wasi.run(program, ["poke", "/far", str(1 << 40)]).exit_code == 0
        at_1_tib = wasi.used_bytes() - empty
        assert 64 << 10 < at_1_tib < 256 << 10, at_1_tib
        assert wasi.run(program, ["poke", "/far", str(largest - 1)]).exit_code == 0
        both = wasi.used_bytes() - empty
        assert both < at_1_tib + (1 << 20) + (128 << 10), both
        assert wasi.fsck() == 0
        assert wasi.run(program, ["cut", "/far", "0"]).exit_code == 0
        assert wasi.used_bytes() == empty
        assert wasi.fsck() == 0


def test_creating_and_deleting_1_gib_reuses_memory(wasm_program: Callable[..., Path]) -> None:
    file_bytes = 16 << 20
    rounds = (1 << 30) // file_bytes
    churn = wasm_program("mass_files")
    with wasi_wasm.start_wasi() as wasi:
        # Rounds first: the directory's own arrays grow to the most room a directory whose
        # names come and go gets (dir.c: 32 slots, doubled each time removed names fill
        # them, up to 256) and are kept.
        assert wasi.run(churn, ["churn", "/", "600", "1"]).exit_code == 0
        start_used = wasi.used_bytes()
        result = wasi.run(churn, ["churn", "/", str(rounds), str(file_bytes)])
        assert result.exit_code == 0, result.stderr
        memory_bytes = wasi.memory.data_len()
        # Peak live data is one file; allow 10 % over it plus what existed before the loop.
        assert memory_bytes <= start_used + file_bytes * 1.1 + (4 << 20), memory_bytes
        assert wasi.used_bytes() == start_used
        assert wasi.fsck() == 0
