"""Host trees read through directory fds only, never following a symlink, at any depth:
the snapshots that tests/test_host_safety.py and tests/test_host_fuzz.py compare."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

Key = tuple[bytes, ...]  # the names from the root down
Entry = tuple[str, bytes]  # ("dir", b""), ("file", what file_content says), ("link", target)
Snapshot = dict[Key, Entry]
DIR_NOFOLLOW = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

# What a snapshot keeps of a regular file: given its directory's fd, its name, its stat.
FileContent = Callable[[int, bytes, os.stat_result], bytes]


def snapshot_fd(root_fd: int, file_content: FileContent) -> Snapshot:
    """Every name below the directory ``root_fd`` (which stays open): kind, and for a file
    what ``file_content`` gives, for a symlink its target."""
    found: Snapshot = {}
    pending: list[tuple[Key, int]] = [((), os.dup(root_fd))]
    while pending:
        parts, fd = pending.pop()
        try:
            for name in map(os.fsencode, os.listdir(fd)):
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                key = (*parts, name)
                if stat.S_ISDIR(info.st_mode):
                    found[key] = ("dir", b"")
                    pending.append((key, os.open(name, DIR_NOFOLLOW, dir_fd=fd)))
                elif stat.S_ISLNK(info.st_mode):
                    found[key] = ("link", os.readlink(name, dir_fd=fd))
                else:
                    found[key] = ("file", file_content(fd, name, info))
        finally:
            os.close(fd)
    return found
