"""run(): the one-call way to run a WASI program and collect its exit code and output: a
command's ``_start``, or a reactor's ``_initialize`` and then one of its exports."""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Mapping, Sequence

from ._invoke import InvokeArg, RunResult, execute_run, prepare_run
from ._limits import Limits
from ._mount import lazy_mounts, lazy_preopens, mount_all
from ._options import Env, Options, merge_options
from ._program import ExtraImports, Program
from ._stdio import OutputTarget, StdinSource
from ._wasi import Wasi, start_process

__all__ = ["InvokeArg", "RunResult", "run"]


def run(
    program: Program,
    args: Sequence[str | bytes] = (),
    *,
    options: Options | None = None,
    wasi: Wasi | None = None,
    env: Env | None = None,
    stdin: StdinSource = b"",
    preopens: Mapping[str, str] | None = None,
    stdout: OutputTarget = None,
    stderr: OutputTarget = None,
    bridge: bool | None = None,
    line_buffered: bool | None = None,
    program_name: str | None = None,
    limits: Limits | None = None,
    timeout: float | None = None,
    stop: threading.Event | None = None,
    tty: Collection[int] = (),
    invoke: str | None = None,
    invoke_args: Sequence[InvokeArg] = (),
    imports: ExtraImports | None = None,
    mounts: Mapping[str, str | os.PathLike[str]] | None = None,
    read_only_mounts: Mapping[str, str | os.PathLike[str]] | None = None,
) -> RunResult:
    """Run a WASI command or reactor (a path, wasm bytes or a compiled module) to completion.

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
    fds 0, 1, 2 say they are terminals (see start_wasi). ``options`` (an ``Options``) holds
    any of these settings in one object; a keyword argument that is not its default
    replaces its field.

    A command runs its ``_start``. A reactor (``_initialize`` and no ``_start``) is
    initialised, and then, as under ``wasmtime run --invoke``, the export named ``invoke`` is
    called with ``invoke_args`` (numbers, checked against its parameter types) and its
    results are ``RunResult.results``; without ``invoke`` it is only initialised. ``invoke``
    on a command calls that export instead of ``_start`` (after ``_initialize`` if it has
    one), as wasmtime does. ``mounts`` / ``read_only_mounts``: guest directory -> host
    directory, each mounted lazily (``Wasi.mount_host_dir``: read from the host as the
    program touches it, changes kept in memory; read-only ones refuse changes with EPERM)
    and preopened under that guest name (with ``wasi``, on its filesystem, where they stay).
    ``imports``: the program's imports besides WASI's,
    as a mapping {module: {name: callable}} (called with the wasm arguments; each gets the type the
    program declares) or a ``wasmtime.Linker`` (its ``define_func`` definitions, e.g. with
    ``access_caller=True`` for a function that reads the caller's memory). Extra imports are
    functions only, since each run has a Store of its own: a memory, table or global, or a
    function defined in another Store, is refused (ProgramError).

    A trap raises wasmtime.Trap; a program that is not a WASI command or reactor, an import
    nothing provides or an export to invoke that is not a function, ProgramError; arguments
    of the wrong number or type, TypeError, and out of range, ValueError (all before the
    program starts); an exit status a host process cannot report, InvalidExitStatus."""
    lazy = lazy_mounts(mounts, read_only_mounts)
    if lazy:
        base = preopens if preopens is not None else options.preopens if options else None
        preopens = {**({"/": "/"} if base is None else base), **lazy_preopens(lazy)}
    merged = merge_options(
        options, env=env, stdin=stdin, preopens=preopens, stdout=stdout, stderr=stderr,
        bridge=bridge, line_buffered=line_buffered, limits=limits, timeout=timeout, stop=stop,
        tty=tty,
    )  # fmt: skip
    if wasi is not None:
        mount_all(wasi.fs, lazy)  # on its filesystem, where they stay
        return wasi.run(
            program, args, options=merged, program_name=program_name, invoke=invoke,
            invoke_args=invoke_args, imports=imports,
        )  # fmt: skip
    prepared = prepare_run(
        program, args, merged, program_name=program_name, invoke=invoke,
        invoke_args=invoke_args, imports=imports,
    )  # fmt: skip
    # A Store of its own, closed when the program ends: nothing of the run stays behind.
    with start_process(None, prepared.argv, prepared.options, one_run=True) as process:
        mount_all(process, lazy)
        return execute_run(process, prepared)
