"""Pipe: a pipe in the shared core memory, connecting one process's fd to another's."""

from __future__ import annotations

from types import TracebackType

from ._process import CoreProcess


class Pipe:
    """A pipe (a 64 KiB ring) in the shared filesystem memory, made by ``Wasi.pipe()``.

    ``Wasi.attach_pipe(pipe, fd, write_end=...)`` makes one process's fd one of its ends.
    A read waits for data, or returns end-of-file once no write end is left; a write waits
    for room, and fails with EPIPE once no read end is left. An end closes when its process
    closes the fd or the process is closed. The host holds the pipe until ``release()``
    (or the end of a ``with`` block), which must run in the thread of the Wasi that made it:
    attach both ends before either program starts, or a reader may see end-of-file at once."""

    def __init__(self, owner: CoreProcess) -> None:
        handle = owner.call("wasi_wasm_pipe_new")
        if handle == 0:
            raise MemoryError("the core could not allocate a pipe")
        self._owner: CoreProcess | None = owner
        self.handle = handle

    @property
    def released(self) -> bool:
        return self._owner is None

    def release(self) -> None:
        """Drop the host's hold; the pipe is freed once no process holds an end. Idempotent."""
        owner = self._owner
        if owner is None:
            return
        if not owner.attached:
            raise ValueError("the Wasi that made this pipe is closed: release pipes before it")
        self._owner = None
        owner.call("wasi_wasm_pipe_release", self.handle)

    def __enter__(self) -> Pipe:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<Pipe {self.handle:#x}{' released' if self.released else ''}>"
