"""Where a process's stdout/stderr bytes go and where its stdin bytes come from."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class BinaryWriter(Protocol):
    def write(self, data: bytes, /) -> object: ...


@runtime_checkable
class BinaryReader(Protocol):
    def read(self, size: int = -1, /) -> bytes | None: ...


# None = capture into bytes; a callable receives each chunk; a binary file is written to
# (a text stream such as sys.stdout: its binary buffer).
OutputTarget = Callable[[bytes], object] | BinaryWriter | io.TextIOBase | None
StdinSource = bytes | bytearray | memoryview | BinaryReader | io.TextIOBase


class OutputSink:
    """One output stream (stdout or stderr) of a process."""

    def __init__(self, target: OutputTarget) -> None:
        self.captured = bytearray()
        self._deliver: Callable[[bytes], object]
        if target is None:
            self._deliver = self.captured.extend
        elif isinstance(target, io.TextIOBase):
            self._deliver = _file_writer(_binary_of(target))
        elif isinstance(target, BinaryWriter):
            self._deliver = _file_writer(target)
        elif callable(target):
            self._deliver = target
        else:
            raise TypeError(f"output target must be None, a callable or a binary file: {target!r}")

    def deliver(self, data: bytes) -> None:
        self._deliver(data)


def _binary_of(text: io.TextIOBase) -> Any:
    """The binary stream under a text stream (sys.stdout -> sys.stdout.buffer): programs
    produce and consume bytes, which must not be re-encoded."""
    binary = getattr(text, "buffer", None)
    if binary is None:
        raise TypeError(f"a binary stream is needed, got the text stream {text!r}")
    if text.writable():
        text.flush()  # keep what was printed before in order
    return binary


def _file_writer(file: BinaryWriter) -> Callable[[bytes], None]:
    flush = getattr(file, "flush", None)

    def write(data: bytes) -> None:
        file.write(data)
        # The core already decided when to deliver (line or threshold): show it now.
        if flush is not None:
            flush()

    return write


class InputSource:
    """The bytes behind fd 0: a fixed buffer or a binary stream, read on demand."""

    def __init__(self, source: StdinSource) -> None:
        self._stream: BinaryReader | None = None
        self._buffer = memoryview(b"")
        self._position = 0
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._buffer = memoryview(bytes(source))
        elif isinstance(source, io.TextIOBase):
            self._stream = _binary_of(source)
        elif isinstance(source, BinaryReader):
            self._stream = source
        else:
            raise TypeError(f"stdin must be bytes or a binary stream: {source!r}")

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; b"" at end of input."""
        if self._stream is None:
            chunk = self._buffer[self._position : self._position + size]
            self._position += len(chunk)
            return bytes(chunk)
        # read1 returns what is available without waiting to fill the whole buffer.
        read1 = getattr(self._stream, "read1", None)
        data = read1(size) if read1 is not None else self._stream.read(size)
        return bytes(data or b"")
