"""How a program's run ends: the exit protocol between the core's ``exit`` hook, a trap or an
interrupt, and the exit code a run reports."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import wasmtime

from ._engine import NO_DEADLINE
from ._hooks import ProcessHooks, WasiExit
from ._interrupt import Interrupted, is_interrupt

# The largest exit status a host process can report: exit(2) keeps the low 8 bits only.
MAX_EXIT_STATUS = 255


class InvalidExitStatus(wasmtime.WasmtimeError):
    """The program called ``proc_exit`` with a status above 255 (WASI's status is 32 bits).

    A host process reports only the low 8 bits of its status, so 256 would read as 0
    (success) and 257 as 1. wasmtime refuses every status from 126 up with the error "exit
    with invalid exit status outside of [0..126)" (a ``WasmtimeError``, and exit code 1 from
    its CLI); this host reports 0..255 as they are (126..255 included, as a shell shows
    them) and refuses the rest as wasmtime does: this error, never a status. ``code`` is the
    status the program asked for."""

    def __init__(self, code: int) -> None:
        super().__init__(
            f"exit with invalid exit status {code} outside of [0..{MAX_EXIT_STATUS + 1})"
        )
        self.code = code


def run_to_exit(
    store: wasmtime.Store,
    hooks: ProcessHooks,
    recover: Callable[[], object],
    flush: Callable[[], None],
    body: Callable[[], list[Any]],
) -> tuple[int, list[Any] | None]:
    """Run ``body`` (bind the program's memory and make its calls) as one run of a program:
    the exit hook records a ``proc_exit`` status and the core traps right after it, so the
    run ends with that status. Returns the exit code (0 to 255: a larger status raises
    ``InvalidExitStatus``) and what ``body`` returned (None when a ``proc_exit`` ended the
    run). ``recover`` rewinds the core after anything else unwound through it; output is
    flushed (``flush``) however the run ends."""
    hooks.exit_code = None
    hooks.return_on_exit = True
    try:
        returned = body()
    except BaseException as error:
        # An error from wasm holds the frames it went through (wasmtime-py's among them,
        # which hold the error): a cycle that would keep this process, and with it the
        # filesystem, until the cycle collector runs. Their locals are of no more use.
        traceback.clear_frames(error.__traceback__)
        interrupted = is_interrupt(error)
        if interrupted:
            # The store's epoch deadline passed (the host interrupted the program): lift
            # it, or recovering, flushing and closing would be interrupted too.
            store.set_epoch_deadline(NO_DEADLINE)
        # An exit, a trap or a KeyboardInterrupt in a Python copy hook may have unwound
        # through the core: rewind its stack, and never leave its lock held.
        recover()
        # Our exit hook recorded the code, and the core trapped after it returned.
        exited = isinstance(error, (WasiExit, wasmtime.Trap, wasmtime.WasmtimeError))
        if not exited or hooks.exit_code is None:
            if interrupted and not isinstance(error, Interrupted):
                raise Interrupted() from error
            raise
        returned = []
    finally:
        hooks.return_on_exit = False
        flush()
    code = hooks.exit_code
    if code is not None and code > MAX_EXIT_STATUS:
        raise InvalidExitStatus(code)
    return (0, returned) if code is None else (code, None)
