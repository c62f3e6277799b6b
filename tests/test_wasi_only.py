"""Behaviour where wasmtime-py's WASI is not the reference (docs/HOST_NOTES.md, "Where
wasmtime-py's own WASI (50) is not the reference"): these programs run only under wasi.wasm
and are checked against explicit expected values.

- EFAULT for guest pointers / lengths outside the program's memory; the program keeps
  running (wasmtime traps "pointer out of bounds");
- the process and thread CPU-time clocks work and advance (wasmtime: EBADF);
- fd_allocate and fd_fdstat_set_rights work, rights only shrink and are enforced
  (wasmtime: ENOTSUP); fd_allocate has fallocate(2)'s errors (len 0 or offset / len above
  2^63 - 1: EINVAL; past 2^63 - 1 or the largest file, 2^44 - 4096: EFBIG);
- rights are exact: an fd opened by path_open has exactly the rights asked for, masked by
  the directory fd's inheriting rights, reads only with FD_READ and writes only with
  FD_WRITE (O_CREAT and O_TRUNC do not make it writable), and every other call needs its
  right; O_TRUNC needs PATH_FILESTAT_SET_SIZE on the directory fd. wasmtime 50 looks at the
  rights only to choose the access mode (O_CREAT / O_TRUNC open for writing), reports a
  fixed set (0x3fffffff writable, 0x3fffffbf read-only) and checks none. wasi-libc's open()
  asks for every right of its access mode, so ordinary programs see no difference; the
  differential programs ask for the rights they use;
- invalid whence / clock id / rights / advice give EINVAL (wasmtime traps);
- fd_readdir cookies stay stable while entries are created and removed;
- ctim follows status changes (wasmtime reports the creation time);
- fd_allocate at the filesystem's limit and past 2^63 (ENOSPC / EFBIG / EINVAL, nothing
  changed), step by step under a small filesystem limit with fsck after each step.

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

from differential import (
    SANDBOX,
    TRAP_EXIT_CODE,
    run_wasi_wasm,
    run_wasmtime,
    wasi_wasm_available,
)


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
            "poll_oneoff too many subscriptions for memory: EFAULT",
            "poll_oneoff 2^21 + 1 subscriptions: ENOMEM",
            "poll_oneoff 2^21 + 1 with bad pointers: ENOMEM",
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
            "allocate len 0: EINVAL",
            "allocate on a read-only fd: ENOTCAPABLE",
            "allocate on a read-only fd with FD_ALLOCATE: EBADF",
            "allocate offset+len overflows: EINVAL",
            "allocate offset 2^63-16 len 32: EFBIG",
            "allocate ending 1 byte past 2^44-4096: EFBIG",
            "size unchanged by failures: 128",
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
        "wasi_only_rights",
        (
            "  rights_base: 0x7bffe00",  # the preopen: PATH_FILESTAT_SET_SIZE included
            "  rights_inheriting: 0xfffffff",
            "write on it (O_CREAT does not make it writable): EBADF",
            "set_size on a read-only fd: ENOTCAPABLE",
            "set_size on it (as ftruncate on a read-only file): EINVAL",
            "open big with TRUNC through it: ENOTCAPABLE",
            "TRUNC asking only FD_READ through it: ENOTCAPABLE",
            "big's size: 10",
            "open d/f through it asking RIGHTS_RW: OK",
            "  rights_base: 0x200026",
            "  rights_base: 0x8a001bf",
            "add FD_WRITE back: ENOTCAPABLE",
            "write on O_RDONLY: EBADF",
        ),
        1,  # wasmtime: its fixed rights, writable after O_CREAT / O_TRUNC, nothing checked
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
        "wasi_only_core_limits",
        (
            "allocate 1 TiB: ENOSPC or EFBIG: yes",
            "allocate 64 KiB after the failures: OK",
            "write 1 MiB to another file: OK",
            "allocate at 2^64-10 len 20: EINVAL",
            "allocate at 2^63-10 len 20: EFBIG",
            "pwrite at 2^64-1 len 1 on an empty file: EINVAL",
            "pwrite at 2^64-1 len 16 on an empty file: EINVAL",
        ),
        1,  # wasmtime: ENOTSUP for fd_allocate
    ),
    OnlyCase(
        "wasi_only_times",
        (
            "write advanced ctim: yes",
            "link advanced ctim: yes",
            "rename advanced ctim: yes",
            "set_times advanced ctim: yes",
            "pread left ctim: yes",
            "O_TRUNC of the empty file advanced ctim: yes",
            "O_TRUNC of the empty file with no other fd advanced ctim: yes",
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


# Each step of wasi_only_core_limits, in order, with what it must print.
CORE_LIMITS_STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "allocate",
        (
            "allocate 1 TiB: ENOSPC or EFBIG: yes",
            "allocate 1 TiB again: ENOSPC or EFBIG: yes",
            "allocate 64 KiB after the failures: OK",
            "write 1 MiB to another file: OK",
        ),
    ),
    ("overflow", ("allocate at 2^64-10 len 20: EINVAL", "allocate at 2^63-10 len 20: EFBIG")),
    ("pwrite", ("pwrite at 2^64-1 len 1 on an empty file: EINVAL", "size: 0")),
    (
        "fill",
        (
            "write 64 KiB chunks until full: ENOSPC",
            "allocate 1 TiB when full: ENOSPC or EFBIG: yes",
            "allocate 1 MiB more when full: ENOSPC",
            "write 1 MiB to another file: OK",
        ),
    ),
)


@pytest.mark.parametrize("bridge", [True, False], ids=["bridge", "fallback"])
def test_core_limits_step_by_step(bridge: bool, wasm_program: Callable[..., Path]) -> None:
    """fd_allocate(1 TiB) and a filesystem filled up under a 4 MiB limit, each step a run of
    its own on one filesystem, with fsck clean after each and the files intact."""
    reason = wasi_wasm_available()
    if reason:
        pytest.skip(reason)
    import wasi_wasm  # noqa: PLC0415 - optional until the package exists

    program = wasm_program("wasi_only_core_limits")
    limits = wasi_wasm.Limits(max_fs_bytes=4 << 20)
    problems: list[str] = []  # every step runs, so one failure does not hide the others
    with wasi_wasm.start_wasi(limits=limits, preopens={}) as wasi:
        wasi.mkdir(SANDBOX)
        assert wasi.fsck() == 0
        for step, required in CORE_LIMITS_STEPS:
            result = wasi.run(
                program, [step], preopens={SANDBOX: SANDBOX}, limits=limits, bridge=bridge
            )
            text = result.stdout.decode("utf-8", "replace")
            lines = text.splitlines()
            problems += [f"{step}: {line}" for line in lines if "MISMATCH" in line]
            problems += [f"{step}: missing {line!r}" for line in required if line not in lines]
            if "failures: 0" not in lines or result.exit_code != 0:
                problems.append(f"{step}: exit {result.exit_code}, {text[-300:]!r}")
            fsck = wasi.fsck()
            if fsck:
                problems.append(f"{step}: fsck found {fsck} problems")
            if wasi.used_bytes() > 4 << 20:
                problems.append(f"{step}: {wasi.used_bytes()} bytes used")
        assert not problems, "\n".join(problems)
        assert wasi.read_file(f"{SANDBOX}/a")[:3] == b"abc"
        assert wasi.stat(f"{SANDBOX}/a").size == 65536
        assert wasi.stat(f"{SANDBOX}/b").size == 1 << 20
        assert wasi.read_file(f"{SANDBOX}/o") == b"xyz"
        assert not wasi.exists(f"{SANDBOX}/fill")
