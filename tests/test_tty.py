"""Stdio fds say they are terminals where the host's streams are (``tty=``): a character
device in fd_fdstat_get and fd_filestat_get, so wasi-libc's isatty() is 1, as under wasmtime
on a terminal; elsewhere their filetype is unknown, as wasmtime says of a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

from cli_run import cli_env
from wasi_wasm import start_wasi

CHARACTER_DEVICE, UNKNOWN = 2, 0


def report(program: Path, tty: tuple[int, ...]) -> list[str]:
    with start_wasi(args=["stdio_tty"], tty=tty) as wasi:
        module = wasmtime.Module.from_file(wasi.engine, program)
        instance = wasmtime.Instance(wasi.store, module, wasi.imports_for(module))
        assert wasi.start(instance) == 0
        return wasi.stderr.decode().splitlines()


@pytest.mark.parametrize("tty", [(), (1,), (0, 2), (0, 1, 2)])
def test_stdio_reports_terminals_where_asked(
    tty: tuple[int, ...], wasm_program: Callable[..., Path]
) -> None:
    lines = report(wasm_program("stdio_tty"), tty)
    expected = []
    for fd in range(3):
        kind = CHARACTER_DEVICE if fd in tty else UNKNOWN
        expected.append(f"fd {fd}: tty {int(fd in tty)} fdstat {kind} filestat {kind}")
    assert lines == expected


@pytest.mark.parametrize("bad", [(3,), (-1,), "1", (0, 5)])
def test_tty_names_only_stdio(bad: object) -> None:
    with pytest.raises(ValueError, match="tty"):
        start_wasi(tty=bad)  # type: ignore[arg-type]


def test_the_cli_shows_its_terminals_as_terminals(wasm_program: Callable[..., Path]) -> None:
    """wasi-wasm run with stdout on a terminal (a pty here) and stdin, stderr not: only fd 1
    says it is one, as under wasmtime run."""
    primary, secondary = os.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "wasi_wasm", "run", str(wasm_program("stdio_tty"))],
            stdin=subprocess.DEVNULL, stdout=secondary, stderr=subprocess.PIPE,
            env=cli_env(), timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(secondary)
        os.close(primary)
    assert result.returncode == 0, result.stderr
    assert result.stderr.decode().splitlines() == [
        f"fd 0: tty 0 fdstat {UNKNOWN} filestat {UNKNOWN}",
        f"fd 1: tty 1 fdstat {CHARACTER_DEVICE} filestat {CHARACTER_DEVICE}",
        f"fd 2: tty 0 fdstat {UNKNOWN} filestat {UNKNOWN}",
    ]
