"""Differential WASI conformance: every program in CASES runs under wasmtime-py's own WASI
(the reference, on a fresh temp directory) and under wasi.wasm (on a fresh VFS), with the
multi-memory bridge forced on, forced off, and left to the default; exit code, stdout and
stderr must be identical.

Each program is also self-checking: it prints "label: VALUE" lines, compares each VALUE with
the expectation written in the C source (the spec's errno, checked against wasmtime on
Linux), marks a mismatch with "MISMATCH" and exits 1. ``test_reference`` runs each program
under wasmtime alone, so the expectations themselves are verified against the reference.

Known, intended difference: rights. wasi.wasm gives an fd opened by path_open exactly the
rights asked for (masked by the directory's inheriting rights) and lets it read / write only
with FD_READ / FD_WRITE; wasmtime 50 uses the rights only to choose the access mode (O_CREAT
and O_TRUNC open for writing) and reports a fixed set. So these programs ask for every right
they then use and never print rights values or rely on O_CREAT / O_TRUNC making an fd
writable; what differs is pinned in test_wasi_only.py (wasi_only_rights.c).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from differential import (
    SANDBOX,
    Outcome,
    first_difference,
    run_wasi_wasm,
    run_wasmtime,
    wasi_wasm_available,
)


@dataclass(frozen=True)
class Case:
    program: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    stdin: bytes = b""
    exit_code: int = 0  # expected under the reference
    stdout_must_contain: tuple[bytes, ...] = field(default=())
    self_checking: bool = True  # ends with "failures: N" (exit_codes does not)

    @property
    def id(self) -> str:
        extra = "-".join(a or "empty" for a in self.args)[:40]
        return f"{self.program}{'-' + extra if extra else ''}{'-stdin' if self.stdin else ''}"


STDIN_BYTES = b"hello\x00\xff world\r\nsecond line\nthird line without newline \xe2\x82\xac"

CASES: list[Case] = [
    Case("args_env"),
    Case(
        "args_env",
        args=("one", "two words", "", "\u00fcn\u00efc\u00f6de", "--flag=x"),
        env=(("WASI_TEST_VAR", "value with spaces"), ("EMPTY", ""), ("A", "1=2")),
        stdout_must_contain=(b"getenv WASI_TEST_VAR: value with spaces", b"argc: 6"),
    ),
    Case("clocks"),
    Case("stdio", stdout_must_contain=(b"stdin bytes: 0",)),
    Case("stdio", stdin=STDIN_BYTES, stdout_must_contain=(b"stdin bytes: 57",)),
    Case("stdio", args=("exit",), stdin=b"x", exit_code=3),
    Case("stdio", stdin=bytes(range(256)) * 64),
    Case("exit_codes", args=("return", "0"), self_checking=False),
    Case("exit_codes", args=("return", "7"), exit_code=7, self_checking=False),
    Case("exit_codes", args=("exit", "1"), exit_code=1, self_checking=False),
    Case("exit_codes", args=("exit", "42"), exit_code=42, self_checking=False),
    Case("exit_codes", args=("proc_exit", "0"), self_checking=False),
    Case("exit_codes", args=("proc_exit", "125"), exit_code=125, self_checking=False),
    Case("exit_codes", args=("unflushed", "5"), exit_code=5, self_checking=False),
    Case(
        "exit_codes",
        args=("atexit", "9"),
        exit_code=9,
        self_checking=False,
        stdout_must_contain=(b"atexit handler ran",),
    ),
    Case("fs_open"),
    Case("fs_readwrite"),
    Case("fs_size"),
    Case("fs_sparse"),
    Case("fs_dirs"),
    Case("fs_readdir"),
    Case("dir_churn"),
    Case("fs_rename"),
    Case("fs_symlink"),
    Case("fs_link"),
    Case("fs_stat_times"),
    Case("fs_fds"),
    Case("fs_sandbox"),
    Case("poll"),
    Case("random"),
    Case("proc_sock"),
    Case("libc_fs"),
    Case("fs_edges"),
    Case("core_cases"),
    Case("writev_growth"),
]

IDS = [c.id for c in CASES]


@cache
def reference(case: Case, wasm: Path) -> Outcome:
    return run_wasmtime(wasm, case.args, dict(case.env), case.stdin)


def _check_reference(case: Case, ref: Outcome) -> None:
    text = ref.stdout.decode("utf-8", "replace")
    assert "MISMATCH" not in text, f"expectation failed under wasmtime:\n{text}"
    assert ref.exit_code == case.exit_code, f"exit {ref.exit_code}\n{text}\n{ref.stderr!r}"
    for needle in case.stdout_must_contain:
        assert needle in ref.stdout, needle
    if case.self_checking and case.exit_code == 0:
        assert "\nfailures: 0\n" in text, text[-500:]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_reference(case: Case, wasm_program: Callable[..., Path]) -> None:
    """The program's own expectations hold under wasmtime-py's WASI (the reference)."""
    _check_reference(case, reference(case, wasm_program(case.program)))


@pytest.mark.parametrize("bridge", [None, True, False], ids=["default", "bridge", "fallback"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_same_as_wasmtime(
    case: Case, bridge: bool | None, wasm_program: Callable[..., Path]
) -> None:
    """wasi.wasm gives exactly the reference's exit code, stdout and stderr."""
    reason = wasi_wasm_available()
    if reason:
        pytest.skip(reason)
    wasm = wasm_program(case.program)
    ref = reference(case, wasm)
    got = run_wasi_wasm(wasm, case.args, dict(case.env), case.stdin, bridge=bridge)
    assert got.stdout == ref.stdout, first_difference(ref.stdout, got.stdout)
    assert got.exit_code == ref.exit_code, got.stderr[-2000:]
    assert got.stderr == ref.stderr, first_difference(ref.stderr, got.stderr)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_same_as_wasmtime_beside_another_thread(
    case: Case, wasm_program: Callable[..., Path]
) -> None:
    """The same, with a process of another thread group attached to the filesystem: the
    program's directory changes take the shared lock's path (test_thread_groups.py), which
    a program alone skips."""
    reason = wasi_wasm_available()
    if reason:
        pytest.skip(reason)
    from wasi_wasm import start_wasi  # noqa: PLC0415 - optional until the package exists

    wasm = wasm_program(case.program)
    ref = reference(case, wasm)
    with start_wasi() as wasi, start_wasi(wasi.init_obj()) as other_thread:
        wasi.mkdir(SANDBOX)
        assert other_thread.exists(SANDBOX)
        assert other_thread._process.thread_group != wasi._process.thread_group
        got = run_wasi_wasm(wasm, case.args, dict(case.env), case.stdin, wasi=wasi)
    assert got.stdout == ref.stdout, first_difference(ref.stdout, got.stdout)
    assert got.exit_code == ref.exit_code, got.stderr[-2000:]
    assert got.stderr == ref.stderr, first_difference(ref.stderr, got.stderr)


def test_harness_detects_differences(wasm_program: Callable[..., Path]) -> None:
    """The reference runner really reports exit codes, output and traps (the harness can fail)."""
    wasm = wasm_program("exit_codes")
    a = run_wasmtime(wasm, ("return", "7"))
    b = run_wasmtime(wasm, ("return", "8"))
    assert (a.exit_code, b.exit_code) == (7, 8)
    assert a.stdout != b.stdout
    trap = run_wasmtime(wasm, ("proc_exit", "200"))  # wasmtime traps on exit codes >= 126
    assert trap.exit_code == 134 and b"[trap]" in trap.stderr
