"""Options: how a process runs, in one keyword-only type that every entry point takes
(start_wasi, Wasi.copy_for_rebinding, run, Wasi.run, run_pipeline and the CLI)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection, Mapping
from typing import Any

from ._limits import Limits
from ._stdio import OutputTarget, StdinSource
from ._timeout import Stop, check_stop

Env = Mapping[str, str] | Mapping[bytes, bytes]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Options:
    """How a process (or each process of a pipeline) runs; every field is optional.

    env: the environment (default none). stdin: bytes or a binary file (default empty).
    preopens: guest directory name -> absolute VFS directory (default {"/": "/"}; missing
        directories are created).
    stdout, stderr: None captures (``RunResult.stdout``, ``wasi.stdout``), a callable
        receives the bytes, a binary file is written to.
    line_buffered: deliver output per line. None: per line when stdout or stderr streams
        (``run``, ``run_pipeline``), else in blocks.
    bridge: copy between the memories with the multi-memory bridge (None: when available).
    limits: the filesystem's limits and the process's fd limit (a fresh filesystem gets
        ``Limits()`` when None).
    tty: which of fds 0, 1, 2 say they are terminals (isatty() is 1, C programs flush per
        line).
    timeout: seconds after which a run is interrupted (``Interrupted``): for ``run`` the
        program, for ``run_pipeline`` the whole pipeline, for a Wasi from ``start_wasi`` or
        ``copy_for_rebinding`` each ``start()`` or ``call_program()``.
    stop: a ``threading.Event`` that interrupts the run(s) as ``timeout`` does once set.

    ``run(..., options=Options(...), timeout=5)``: a keyword argument that is not its
    default replaces the field of ``options``."""

    env: Env | None = None
    stdin: StdinSource = b""
    preopens: Mapping[str, str] | None = None
    stdout: OutputTarget = None
    stderr: OutputTarget = None
    line_buffered: bool | None = None
    bridge: bool | None = None
    limits: Limits | None = None
    tty: Collection[int] = ()
    timeout: float | None = None
    stop: threading.Event | None = None

    def __post_init__(self) -> None:
        if self.limits is not None and not isinstance(self.limits, Limits):
            name = type(self.limits).__name__
            raise TypeError(f"limits must be a wasi_wasm.Limits, not {name}")
        check_stop(self.timeout, self.stop)
        tty_streams(self.tty)

    def until(self) -> Stop | None:
        """When a run that starts now is stopped (None: never)."""
        return Stop.after(self.timeout, self.stop)

    def streams_line_buffered(self) -> bool:
        """line_buffered, with None meaning "per line when output streams"."""
        if self.line_buffered is None:
            return self.stdout is not None or self.stderr is not None
        return self.line_buffered


def merge_options(options: Options | None, **keywords: Any) -> Options:
    """``options`` (default ``Options()``) with each of ``keywords`` that is not its
    default: the keyword arguments of an entry point override the options given with it."""
    if options is None:
        options = _DEFAULTS
    elif not isinstance(options, Options):
        raise TypeError(f"options must be a wasi_wasm.Options, not {type(options).__name__}")
    changes = {
        name: value
        for name, value in keywords.items()
        if not _is_default(value, getattr(_DEFAULTS, name))
    }
    return dataclasses.replace(options, **changes) if changes else options


def _is_default(value: object, default: object) -> bool:
    # Identity for None and the empty defaults; == would call a user's __eq__.
    return value is default or (type(value) is type(default) and value == default)


def tty_streams(fds: Collection[int]) -> int:
    """The core's stream mask for ``tty``: a ValueError for anything but 0, 1 and 2."""
    if isinstance(fds, (str, bytes)) or not all(fd in (0, 1, 2) for fd in fds):
        raise ValueError(f"tty must name stdio fds (0, 1, 2), not {fds!r}")
    return sum(1 << fd for fd in set(fds))


_DEFAULTS = Options()
