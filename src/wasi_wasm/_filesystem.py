"""Filesystem: the shared in-memory filesystem as one Wasi sees it (``wasi.fs``), and the
forwarding that keeps its methods reachable on the Wasi itself (``wasi.write_file(...)``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ._mount import MountMixin
from ._process import CoreProcess
from ._snapshot import SnapshotMixin
from ._store import StoreState


class Filesystem(SnapshotMixin, MountMixin):
    """The filesystem API (``write_file``, ``read_file``, ``mkdir``, ``listdir``, ``stat``,
    ..., ``copy_in_tree``, ``save_tar``, ``mount_host_dir``, ``frozen``, ``fsck``,
    ``used_bytes``) on the
    filesystem a Wasi shares with every process on its memory. It is the Wasi's: once the
    Wasi is closed, its methods raise ValueError. Its calls go through the internal host
    process of the Wasi's Store, so like the Wasi it belongs to one thread."""

    def __init__(self, state: StoreState) -> None:
        self._state = state
        self._closed = False

    def _vfs_process(self) -> tuple[CoreProcess, int]:
        if self._closed:
            raise ValueError("this Wasi is closed")
        return self._state.host_process()

    def _wasi_closed(self) -> None:  # the Wasi tells it
        self._closed = True

    def _memory_owner(self) -> object:
        """What the filesystem's lazy mounts live as long as (_mount.py)."""
        return self._state.init.memory

    def used_bytes(self) -> int:
        """Bytes the VFS allocator has handed out (for leak checks)."""
        process, _root = self._vfs_process()
        return process.call("wasi_wasm_used_bytes")

    def fsck(self) -> int:
        """Number of inconsistencies the core finds in the filesystem (0 = healthy)."""
        process, _root = self._vfs_process()
        return process.call("wasi_wasm_fsck")


FILESYSTEM_METHODS = tuple(
    name
    for name in dir(Filesystem)
    if not name.startswith("_") and callable(getattr(Filesystem, name))
)


def _forward(name: str) -> Callable[..., Any]:
    @functools.wraps(getattr(Filesystem, name))
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.fs, name)(*args, **kwargs)

    return method


class FilesystemFront:
    """Every public method of Filesystem, forwarded to ``self.fs`` (a Wasi's base class; type
    checkers are shown Filesystem itself, so the forwarded methods keep their signatures)."""

    fs: Filesystem


for _name in FILESYSTEM_METHODS:
    setattr(FilesystemFront, _name, _forward(_name))
