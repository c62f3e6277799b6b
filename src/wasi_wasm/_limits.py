"""Limits on what guest programs may consume, and how they reach the core.

``max_fs_bytes``, ``max_path``, ``max_name`` and ``max_symlink_follows`` belong to a
filesystem (every process sharing it sees them); ``max_fds`` to one process. A fresh
filesystem gets ``Limits()`` unless told otherwise; a process started on an existing
filesystem changes its limits only when given a ``Limits``.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from ._abi import LIMITS
from ._errno import error_from_wasi

# The defaults and ranges are the ABI's (abi/host.toml): (default, min, max).
DEFAULT_MAX_FS_BYTES, MIN_FS_BYTES, MEMORY_BYTES = LIMITS["max_fs_bytes"]
DEFAULT_MAX_FDS, MIN_FDS, MAX_FDS_CAP = LIMITS["max_fds"]
DEFAULT_MAX_PATH, _, MAX_PATH_CAP = LIMITS["max_path"]
MAX_NAME_CAP = LIMITS["max_name"][2]
MAX_SYMLINK_FOLLOWS_CAP = LIMITS["max_symlink_follows"][2]


@dataclasses.dataclass(frozen=True)
class Limits:
    """What a guest may consume.

    max_fs_bytes: bytes the core's allocator may hand out: file data, directories and
        names, and the tables and 64 KiB stack of each running process (about 70 KiB each).
        Past it, writes and creations fail with ENOSPC (a write that does not fit writes
        nothing) and starting another process with ENOMEM. None: only the 4 GiB of the core
        memory bound it. Default 1 GiB, at least 1 MiB.
    max_fds: open file descriptors per process, stdio and preopens included (EMFILE).
        Default 1024, at most 65536.
    max_path: bytes in a path argument, a symlink target or a symlink expansion
        (ENAMETOOLONG). Default 4095 (as Linux, where PATH_MAX = 4096 counts the NUL),
        at most 4096.
    max_name: bytes in one path component (ENAMETOOLONG). Default and maximum 255.
    max_symlink_follows: symlinks followed while resolving one path (ELOOP past it).
        Default and maximum 40, as Linux.
    """

    max_fs_bytes: int | None = DEFAULT_MAX_FS_BYTES
    max_fds: int = DEFAULT_MAX_FDS
    max_path: int = DEFAULT_MAX_PATH
    max_name: int = MAX_NAME_CAP
    max_symlink_follows: int = MAX_SYMLINK_FOLLOWS_CAP

    def __post_init__(self) -> None:
        if self.max_fs_bytes is not None:
            _check_int("max_fs_bytes", self.max_fs_bytes, MIN_FS_BYTES, MEMORY_BYTES)
        _check_int("max_fds", self.max_fds, MIN_FDS, MAX_FDS_CAP)
        _check_int("max_path", self.max_path, 1, MAX_PATH_CAP)
        _check_int("max_name", self.max_name, 1, MAX_NAME_CAP)
        _check_int("max_symlink_follows", self.max_symlink_follows, 1, MAX_SYMLINK_FOLLOWS_CAP)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"Limits.{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"Limits.{name} must be between {low} and {high}, got {value}")


class _Caller(Protocol):
    """What applying limits needs of a core instance (a CoreProcess)."""

    def call(self, name: str, *args: int) -> int: ...


def apply_filesystem_limits(process: _Caller, limits: Limits) -> None:
    """Set the filesystem-wide limits through any process on that filesystem."""
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be a wasi_wasm.Limits, not {type(limits).__name__}")
    code = process.call(
        "wasi_wasm_set_limits",
        limits.max_fs_bytes or 0,
        limits.max_path,
        limits.max_name,
        limits.max_symlink_follows,
    )
    if code:
        raise error_from_wasi(code)


def apply_process_limits(process: _Caller, limits: Limits) -> None:
    """Set ``process``'s own limits (its fd count)."""
    code = process.call("wasi_wasm_set_max_fds", limits.max_fds)
    if code:
        raise error_from_wasi(code)
