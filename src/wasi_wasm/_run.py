"""run(): the one-call way to run a WASI program and collect its exit code and output."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection, Mapping, Sequence

from ._limits import Limits
from ._program import Program, load_program
from ._stdio import OutputTarget, StdinSource
from ._timeout import Stop, check_stop, stop_when
from ._wasi import Env, ProcessOptions, Wasi, start_process


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What a program that ended left: ``exit_code`` is its exit status, 0 to 255 as a host
    process can report it. A status of 256 or more (WASI's status is 32 bits) is never
    reported: the run raises ``InvalidExitStatus`` instead."""

    exit_code: int
    stdout: bytes  # empty when stdout went to a callback or file
    stderr: bytes


def run(
    program: Program,
    args: Sequence[str | bytes] = (),
    env: Env | None = None,
    stdin: StdinSource = b"",
    preopens: Mapping[str, str] | None = None,
    *,
    wasi: Wasi | None = None,
    stdout: OutputTarget = None,
    stderr: OutputTarget = None,
    bridge: bool | None = None,
    line_buffered: bool | None = None,
    program_name: str | None = None,
    limits: Limits | None = None,
    timeout: float | None = None,
    stop: threading.Event | None = None,
    tty: Collection[int] = (),
) -> RunResult:
    """Run a WASI command (a path, wasm bytes or a compiled module) to completion.

    argv[0] is the program's file name ("program.wasm" for bytes), followed by ``args``.
    With ``wasi`` the program runs as a new process on that Wasi's filesystem (in a Store of
    its own, dropped when the program ends; ``wasi.store``'s epoch deadline applies), else on
    a fresh one. ``preopens`` maps guest names to VFS directories (default {"/": "/"}).
    stdout/stderr: None captures into the result; a callable or binary file streams, then
    delivered per line unless ``line_buffered=False``. ``program_name`` overrides argv[0].
    ``limits`` (a ``Limits``): the filesystem's limits and the process's fd limit (a fresh
    filesystem gets ``Limits()`` when None). ``timeout``: seconds after which the program is
    interrupted (``Interrupted``), for programs that may never end; ``stop``: a
    ``threading.Event`` that interrupts it the same way once set (from any thread). Either
    stops it within about 10 ms, also while it sleeps or waits on a pipe. ``tty``: which of
    fds 0, 1, 2 say they are terminals (see start_wasi).
    A trap raises wasmtime.Trap; a program that is not a WASI command, ProgramError; an exit
    status a host process cannot report, InvalidExitStatus."""
    if isinstance(args, (str, bytes)):
        raise TypeError("args must be a sequence of strings, not one string")
    check_stop(timeout, stop)
    module, name = load_program(program)
    name = program_name or name
    if line_buffered is None:
        line_buffered = stdout is not None or stderr is not None
    options = ProcessOptions(
        [name, *args], env, stdin, preopens, stdout, stderr, line_buffered, bridge, limits, tty
    )
    until = Stop.after(timeout, stop)
    # A Store of its own, closed when the program ends: nothing of the run stays behind.
    if wasi is not None:
        process = wasi.spawn_run(options)
    else:
        process = start_process(None, options, one_run=True)
    with process, stop_when(process.store, process.engine, until):
        instance = process._instantiate(module)
        code = process.start_run(instance)
        return RunResult(code, process.stdout, process.stderr)
