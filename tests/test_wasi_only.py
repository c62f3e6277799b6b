"""Behaviour where wasmtime-py's WASI is not the reference (shared/NOTES.md, "Where
wasmtime-py's own WASI is not the reference"): these programs run only under wasi.wasm and
are checked against explicit expected values.

- EFAULT for guest pointers / lengths outside the program's memory; the program keeps
  running (wasmtime traps "pointer out of bounds");
- the process and thread CPU-time clocks work and advance (wasmtime: EBADF);
- fd_allocate and fd_fdstat_set_rights work, rights only shrink and are enforced
  (wasmtime: ENOTSUP);
- invalid whence / clock id / rights / advice give EINVAL (wasmtime traps);
- fd_readdir cookies stay stable while entries are created and removed;
- ctim follows status changes (wasmtime reports the creation time).

Each program states its expectations in C and prints "label: VALUE" lines; a wrong value
is marked MISMATCH and the program exits 1. The tests below also require specific lines,
so the outcome is pinned here too, and check that wasmtime really differs (so each case
belongs in this file and not in the differential suite).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from differential import TRAP_EXIT_CODE, run_wasi_wasm, run_wasmtime, wasi_wasm_available


@dataclass(frozen=True)
class OnlyCase:
    program: str
    required_lines: tuple[str, ...]
    wasmtime_exit: int | None  # how wasmtime fails it (None: host-dependent, not checked)


CASES = [
    OnlyCase(
        "wasi_only_efault",
        (
            "args_get bad argv ptr: EFAULT",
            "clock_time_get ptr straddling the end: EFAULT",
            "random_get wrapping range: EFAULT",
            "random_get 0 bytes at the end of memory: OK",
            "fd_write iov buffer out of memory: EFAULT",
            "fd_read iov buffer out of memory: EFAULT",
            'file unchanged by the failed writes: "0123456789"',
            "path_open path running past the end: EFAULT",
            "path_rename bad new path: EFAULT",
            "poll_oneoff bad events: EFAULT",
            "normal write still works: OK",
        ),
        TRAP_EXIT_CODE,
    ),
    OnlyCase(
        "wasi_only_clocks",
        (
            "clock_res_get process: OK",
            "clock_time_get process after work: OK",
            "process CPU time advanced: yes",
            "thread CPU time advanced: yes",
            "clock_res_get id 4: EINVAL",
            "clock_time_get id -1: EINVAL",
            "fd_seek whence 3: EINVAL",
            "offset unchanged: 0",
            "fd_advise advice 6: EINVAL",
            "path_open rights bit 30: EINVAL",
            "fd_fdstat_set_rights bit 40: EINVAL",
        ),
        1,  # wasmtime: EBADF for the CPU clocks (then a trap or mismatch)
    ),
    OnlyCase(
        "wasi_only_allocate_rights",
        (
            "allocate 0..10: OK",
            'content: "abc\\x00\\x00\\x00\\x00\\x00\\x00\\x00"',
            "size not shrunk: 10",
            "size: 128",
            "allocate on a read-only fd: EBADF",
            "drop FD_WRITE: OK",
            "write without FD_WRITE: ENOTCAPABLE",
            "add FD_WRITE back: ENOTCAPABLE",
            "seek without FD_SEEK: ENOTCAPABLE",
            "read with no rights: ENOTCAPABLE",
            "open through d asking for write: ENOTCAPABLE or a read-only fd: yes",
            "mkdir without the right: ENOTCAPABLE",
        ),
        1,
    ),
    OnlyCase(
        "wasi_only_readdir_stable",
        (
            "listing completed without errors: yes",
            "every kept entry listed exactly once: yes",
            "removed entries listed after their removal: 0",
            '"." and ".." listed: 2',
        ),
        None,  # wasmtime's result depends on the host filesystem's entry order
    ),
    OnlyCase(
        "wasi_only_times",
        (
            "write advanced ctim: yes",
            "link advanced ctim: yes",
            "rename advanced ctim: yes",
            "set_times advanced ctim: yes",
            "pread left ctim: yes",
        ),
        1,
    ),
]
IDS = [c.program for c in CASES]


@pytest.mark.parametrize("bridge", [None, True, False], ids=["default", "bridge", "fallback"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_wasi_wasm(case: OnlyCase, bridge: bool | None, wasm_program: Callable[..., Path]) -> None:
    reason = wasi_wasm_available()
    if reason:
        pytest.skip(reason)
    got = run_wasi_wasm(wasm_program(case.program), bridge=bridge)
    text = got.stdout.decode("utf-8", "replace")
    lines = set(text.splitlines())
    mismatches = [line for line in text.splitlines() if "MISMATCH" in line]
    assert not mismatches, "\n".join(mismatches)
    missing = [line for line in case.required_lines if line not in lines]
    assert not missing, f"missing lines {missing}\n{text}"
    assert "failures: 0" in lines
    assert got.exit_code == 0, got.stderr


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.wasmtime_exit is not None], ids=lambda c: c.program
)
def test_wasmtime_really_differs(case: OnlyCase, wasm_program: Callable[..., Path]) -> None:
    """Each case is a known difference: wasmtime traps or fails the expectations."""
    ref = run_wasmtime(wasm_program(case.program))
    if case.wasmtime_exit == TRAP_EXIT_CODE:
        assert ref.exit_code == TRAP_EXIT_CODE and b"[trap]" in ref.stderr
    else:
        assert ref.exit_code in (1, TRAP_EXIT_CODE)
        assert b"MISMATCH" in ref.stdout or b"[trap]" in ref.stderr


@pytest.mark.parametrize(
    ("args", "stdout"),
    [
        (("proc_exit", "126"), b"mode proc_exit code 126\nflushed line, no newline"),
        (("proc_exit", "200"), b"mode proc_exit code 200\nflushed line, no newline"),
        (("exit", "255"), b"mode exit code 255\npartial line before exit"),
        (("return", "128"), b"mode return code 128\n"),
    ],
    ids=["proc_exit-126", "proc_exit-200", "exit-255", "return-128"],
)
def test_exit_codes_from_126_up(
    args: tuple[str, str], stdout: bytes, wasm_program: Callable[..., Path]
) -> None:
    """proc_exit reports any status (wasmtime traps for 126 and above)."""
    wasm = wasm_program("exit_codes")
    assert run_wasmtime(wasm, args).exit_code == TRAP_EXIT_CODE
    reason = wasi_wasm_available()
    if reason:
        pytest.skip(reason)
    for bridge in (True, False):
        got = run_wasi_wasm(wasm, args, bridge=bridge)
        assert (got.exit_code, got.stdout, got.stderr) == (
            int(args[1]),
            stdout,
            b"stderr before exit\n",
        )
