"""The CLI's stdout and stderr to a pipe or a file: the core buffers what a program writes and
the host delivers it at every epoch tick (10 ms), when the program reads or exits, or when a
buffer fills, instead of in one host call per write (src/wasi_wasm/cli.py, _output_is_terminal;
dev/process/stdio.c). What must hold: every byte arrives, in the order written across both
streams, and a line written before a long computation shows within a few ticks, as under
wasmtime, which writes each write(2) through at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def pace(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("stdout_pace")


def cli(program: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "wasi_wasm", "run", str(program), "--", *args]


def test_every_line_arrives_in_order(pace: Path) -> None:
    result = subprocess.run(cli(pace, "lines", "100000"), capture_output=True, check=True)
    assert result.stdout == b"".join(b"line %d\n" % i for i in range(100000))


def test_stdout_and_stderr_keep_the_order_they_were_written_in(pace: Path) -> None:
    result = subprocess.run(
        cli(pace, "interleave", "5000"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=True,
    )
    expected = b"".join(b"%s %d\n" % (b"err" if i % 2 else b"out", i) for i in range(5000))
    assert result.stdout == expected


def test_a_line_shows_while_the_program_computes(pace: Path) -> None:
    """'first' is written, then the program computes for 3 s with no call that would flush:
    the line must reach the pipe long before 'last' (here: within 1 s)."""
    started = time.monotonic()
    process = subprocess.Popen(cli(pace, "then-spin", "3"), stdout=subprocess.PIPE)
    assert process.stdout is not None
    first = process.stdout.readline()
    shown_after = time.monotonic() - started
    rest = process.stdout.read()
    assert process.wait(60) == 0
    assert (first, rest) == (b"first\n", b"last\n")
    # Held back until the end it would show after the 3 s of computing and the start-up.
    assert shown_after < 3.0, f"'first' showed only after {shown_after:.2f} s"


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_to_a_terminal_each_line_goes_out_as_written(pace: Path) -> None:
    """A terminal gets every line when it is written (STDIO_AT_NEWLINE), not at a tick."""
    leader, follower = os.openpty()
    try:
        process = subprocess.Popen(cli(pace, "then-spin", "2"), stdout=follower)
        os.close(follower)
        started = time.monotonic()
        first = b""
        while not first.endswith(b"\n"):
            first += os.read(leader, 64)
        assert first.replace(b"\r", b"") == b"first\n"
        assert time.monotonic() - started < 2.0
        assert process.wait(60) == 0
    finally:
        os.close(leader)
