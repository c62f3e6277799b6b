"""The host side of lazy host mounts (DESIGN.md "Lazy host mounts"), apart from the
filesystem API (``_mount.py``) so that ``_hooks.py`` can import it: a VFS directory whose
listing and file bytes come from a host directory on first access, copy-on-write in memory.

The core keeps a token per lazy inode and calls two hooks: ``lazy_list(token)``, the
listing of a host directory, and ``lazy_read(token, offset)``, bytes of a host file. Here a
token names an entry of a ``HostMount``: its parent entry and its name. Each call opens the
entry again from the mount's root fd, one component at a time with O_NOFOLLOW, so a host
symlink is never followed (host symlinks appear in the VFS as symlinks with their target
text, as ``copy_in_tree`` makes them) and nothing outside the mounted tree is ever read.

What the program changes stays in memory; the host is untouched unless the caller writes
the mount back (``write_back_host_dir``). A host file is read when the program first opens
it, and not again: later host changes to a file already read are not seen. A host entry the
VFS cannot hold (a name that is not UTF-8 or too long, a device, a socket, a FIFO) is left
out of the listing."""

from __future__ import annotations

import _thread
import errno as host_errno
import os
import stat as host_stat
import struct
import threading
import weakref
from collections.abc import Callable

from ._abi import (
    FILETYPE_DIRECTORY,
    FILETYPE_REGULAR_FILE,
    FILETYPE_SYMBOLIC_LINK,
    LAZY_RECORD_SIZE,
    LIMIT_MAX_NAME_MAX,
    LIMIT_MAX_PATH_DEFAULT,
)
from ._core_memory import U32_MASK, CoreMemory
from ._errno import EIO, WASI_ERRNO_NAMES

EINTR = WASI_ERRNO_NAMES.index("intr")

_RECORD = struct.Struct("<QQQQBBHI")
assert _RECORD.size == LAZY_RECORD_SIZE
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_BELOW_FLAGS = _DIR_FLAGS | os.O_NOFOLLOW
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)
_MOUNT_SHIFT = 40  # token = mount number << 40 | entry number + 1
_MAX_NAME = LIMIT_MAX_NAME_MAX
_MAX_TARGET = LIMIT_MAX_PATH_DEFAULT  # the core refuses a longer one (lazy.c)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def shown_entry(dir_fd: int, name: bytes, info: os.stat_result) -> tuple[int, bytes] | None:
    """What a lazy mount shows for the host entry name of the directory dir_fd: its file
    type and, for a symlink, its target; None for an entry the VFS cannot hold, which is
    left out of the listing. Write-back leaves those alone too: a program never saw them,
    so it cannot have removed them."""
    if not _utf8(name) or len(name) > _MAX_NAME:
        return None
    if host_stat.S_ISLNK(info.st_mode):
        target = os.readlink(name, dir_fd=dir_fd)
        if not target or len(target) > _MAX_TARGET or b"\0" in target or not _utf8(target):
            return None
        return FILETYPE_SYMBOLIC_LINK, target
    if host_stat.S_ISDIR(info.st_mode):
        return FILETYPE_DIRECTORY, b""
    if host_stat.S_ISREG(info.st_mode):
        return FILETYPE_REGULAR_FILE, b""
    return None


def wasi_errno_of(error: OSError) -> int:
    """The WASI errno for a host OSError (EIO where WASI has no such number)."""
    name = host_errno.errorcode.get(error.errno or 0, "")
    wasi_name = name[1:].lower()
    if name.startswith("E") and wasi_name in WASI_ERRNO_NAMES:
        return WASI_ERRNO_NAMES.index(wasi_name)
    return EIO


class HostMount:
    """One mounted host directory: entry 0 is its root; each other entry is (parent, name).

    Safe to call from any thread: the entry table grows under a lock, and each call opens
    what it reads (the last file read stays open for the next chunk of it)."""

    def __init__(self, number: int, host_path: str | os.PathLike[str], read_only: bool) -> None:
        self.number = number
        self.host_path = os.fspath(host_path)
        self.read_only = read_only
        self.root_fd = os.open(host_path, _DIR_FLAGS)
        self._entries: list[tuple[int, bytes]] = [(-1, b"")]
        self._lock = threading.Lock()
        self._open_file: tuple[int, int] | None = None  # (entry, fd), under _file_lock
        self._file_lock = threading.Lock()
        self._listing: tuple[int, bytes] | None = None  # one too large for the last buffer
        self.listed = 0  # directories listed, files read: what the program touched
        self.read_files: set[int] = set()
        # What the mount showed, for write-back: the entry of each (parent, name) listed
        # last, the names each directory's last listing showed, each file's (size, mtime)
        # as listed, and what was last written back to each host path (unchanged_file).
        self._children: dict[tuple[int, bytes], int] = {}
        self._shown: dict[int, set[bytes]] = {}
        self._listed_files: dict[int, tuple[int, int]] = {}
        self._written: dict[tuple[bytes, ...], tuple[int, ...]] = {}
        self._synced_names: dict[tuple[bytes, ...], set[bytes]] = {}  # (synced_names)

    def token(self, entry: int) -> int:
        return self.number << _MOUNT_SHIFT | (entry + 1)

    def owns(self, token: int) -> bool:
        return token >> _MOUNT_SHIFT == self.number

    def entry_of(self, token: int) -> int:
        return (token & ((1 << _MOUNT_SHIFT) - 1)) - 1

    def parts(self, entry: int) -> list[bytes]:
        """The names from the mount's root down to ``entry``."""
        names: list[bytes] = []
        with self._lock:
            while entry > 0:
                entry, name = self._entries[entry]
                names.append(name)
        names.reverse()
        return names

    def _open_below(self, parts: list[bytes], last_flags: int) -> int:
        fd = self.root_fd
        owned = False
        try:
            for i, name in enumerate(parts):
                flags = last_flags if i == len(parts) - 1 else _BELOW_FLAGS
                new = os.open(name, flags, dir_fd=fd)
                if owned:
                    os.close(fd)
                fd, owned = new, True
            return fd if owned else os.dup(fd)
        except BaseException:
            if owned:
                os.close(fd)
            raise

    def _add(self, parent: int, name: bytes) -> int:
        with self._lock:
            self._entries.append((parent, name))
            entry = len(self._entries) - 1
            self._children[parent, name] = entry
            return entry

    def entry_at(self, parts: list[bytes]) -> int | None:
        """The entry the mount's listings showed at host path ``parts`` (None if none did)."""
        entry = 0
        with self._lock:
            for name in parts:
                found = self._children.get((entry, name))
                if found is None:
                    return None
                entry = found
        return entry

    def shown_names(self, parts: list[bytes]) -> set[bytes]:
        """The names the host directory at ``parts`` had as the programs knew it: those the
        last write-back left there (synced_names), else those its last listing showed. All
        a write-back may remove there; none where the mount never listed that directory:
        what the host has there then, the program never saw."""
        with self._lock:
            synced = self._synced_names.get(tuple(parts))
            if synced is not None:
                return set(synced)
        entry = self.entry_at(parts)
        with self._lock:
            return set(self._shown.get(entry, ())) if entry is not None else set()

    def synced_names(self, parts: list[bytes], names: set[bytes]) -> None:
        """A write-back made the host directory at ``parts`` hold ``names`` (and what the
        mount never showed): a later write-back removes those the program removed since,
        made by the earlier one too."""
        with self._lock:
            self._synced_names[tuple(parts)] = set(names)

    def unchanged_file(self, parts: list[bytes], token: int, stat: tuple[int, ...]) -> bool:
        """Whether the program left alone the VFS file with ``token`` at host path ``parts``
        whose (VFS inode, size, mtime, ctime) is ``stat``: it is the file the mount listed
        there, with the size and mtime listed, or the file last written back there
        (``written``), unchanged since. Its host file is not the write-back's to replace,
        even where the host changed it since."""
        with self._lock:
            if self._written.get(tuple(parts)) == stat:
                return True
        if not self.owns(token) or self.entry_of(token) <= 0:
            return False
        entry = self.entry_of(token)
        if self.parts(entry) != parts:
            return False  # moved here (a swap of two names alike in size and mtime too)
        with self._lock:
            listed = self._listed_files.get(entry)
        # ctime too: the core sets it to the listed mtime when it loads the file and to the
        # time of every change since (a write that keeps the size and sets the mtime back).
        return listed is not None and stat[1:] == (*listed, listed[1])

    def written(self, parts: list[bytes], stat: tuple[int, ...]) -> None:
        """The VFS file whose (inode, size, mtime, ctime) is ``stat`` was written back to
        host path ``parts``."""
        with self._lock:
            self._written[tuple(parts)] = stat

    def listing(self, entry: int) -> bytes:
        fd = self._open_below(self.parts(entry), _BELOW_FLAGS)
        out = bytearray()
        shown: set[bytes] = set()
        try:
            with os.scandir(fd) as entries:
                for item in entries:
                    record = self._record(entry, fd, item)
                    if record is not None:
                        out += record
                        shown.add(os.fsencode(item.name))
        finally:
            os.close(fd)
        with self._lock:
            self._shown[entry] = shown
        self.listed += 1
        return bytes(out)

    def _record(self, parent: int, fd: int, item: os.DirEntry[str]) -> bytes | None:
        name = os.fsencode(item.name)
        try:
            info = item.stat(follow_symlinks=False)
        except FileNotFoundError:
            return None  # gone since it was listed
        shown = shown_entry(fd, name, info)
        if shown is None:
            return None
        kind, target = shown
        token = 0
        size = info.st_size if kind == FILETYPE_REGULAR_FILE else 0
        if kind != FILETYPE_SYMBOLIC_LINK:
            entry = self._add(parent, name)
            token = self.token(entry)
            if kind == FILETYPE_REGULAR_FILE:
                with self._lock:
                    self._listed_files[entry] = (size, info.st_mtime_ns)
        head = _RECORD.pack(
            token, size, info.st_atime_ns, info.st_mtime_ns, kind, 0, len(name), len(target)
        )
        body = head + name + target
        return body + bytes(-len(body) % 8)

    def read(self, entry: int, offset: int, length: int) -> bytes:
        """Bytes of the file ``entry``; the file stays open for the next piece of it (one
        fd per mount, used and replaced under ``_file_lock``: the core calls one hook at a
        time per filesystem anyway, holding its lock, but a host may share a mount)."""
        parts = self.parts(entry)
        with self._file_lock:
            cached = self._open_file
            if cached is None or cached[0] != entry:
                fd = self._open_below(parts, _FILE_FLAGS)
                try:
                    if not host_stat.S_ISREG(os.fstat(fd).st_mode):
                        raise OSError(host_errno.EIO, "not a regular file any more")
                except BaseException:
                    os.close(fd)
                    raise
                if cached is not None:
                    os.close(cached[1])
                cached = self._open_file = (entry, fd)
                self.read_files.add(entry)
            return os.pread(cached[1], length, offset)

    def list_hook(self, memory: CoreMemory, token: int, ptr: int, cap: int) -> int:
        entry = self.entry_of(token)
        with self._lock:
            kept = self._listing
            self._listing = None
        data = kept[1] if kept is not None and kept[0] == entry else self.listing(entry)
        if len(data) > cap:
            with self._lock:
                self._listing = (entry, data)
            return len(data)
        memory.write(ptr, data)
        return len(data)

    def close(self) -> None:
        with self._file_lock:
            cached, self._open_file = self._open_file, None
        if cached is not None:
            os.close(cached[1])
        if self.root_fd >= 0:
            os.close(self.root_fd)
            self.root_fd = -1


_mounts: dict[int, HostMount] = {}
_mounts_lock = threading.Lock()
# A token is a u64 (the core's, and wasmtime-py's i64, which truncates a larger int without a
# word): mount number 2^24 + n made mount n's tokens, so after 2^24 mounts in one Python
# process a new mount showed another live filesystem's host directory
# (tests/test_lazy_mount.py::test_mount_numbers_stay_below_the_token_bits).
_MOUNT_NUMBERS = 1 << (64 - _MOUNT_SHIFT)


class _NumberCursor:
    """Mount numbers are handed out in turn from 1 to _MOUNT_NUMBERS - 1, skipping live mounts:
    a number comes back only after its mount was forgotten (its memory collected, so no core
    keeps its tokens) and every other number was handed out since. Under _mounts_lock."""

    next = 1

    @classmethod
    def take(cls) -> int:
        for _ in range(_MOUNT_NUMBERS - 1):
            number = cls.next
            cls.next = number + 1 if number + 1 < _MOUNT_NUMBERS else 1
            if number not in _mounts:
                return number
        raise OSError(host_errno.ENOMEM, "too many lazy mounts at once")


def _mount_of(token: int) -> HostMount | None:
    return _mounts.get(token >> _MOUNT_SHIFT)


def _failed(error: BaseException) -> int:
    """A hook's answer to an exception it must not let unwind through the core, which holds
    its lock and is halfway through loading an inode (it undoes that on an error): EIO, or
    for Ctrl-C EINTR, with the KeyboardInterrupt raised again in the main thread as soon as
    it runs Python outside the core."""
    if isinstance(error, KeyboardInterrupt):
        if threading.current_thread() is threading.main_thread():
            _thread.interrupt_main()
        return -EINTR
    return -EIO


def lazy_list(memory: CoreMemory, token: int, ptr: int, cap: int) -> int:
    """The lazy_list hook: called by the core with its lock held, from any thread."""
    token &= (1 << 64) - 1
    mount = _mount_of(token)
    if mount is None:
        return -EIO
    try:
        return mount.list_hook(memory, token, ptr, cap & U32_MASK)
    except OSError as error:
        return -wasi_errno_of(error)
    except BaseException as error:  # never unwind through the core: it holds its lock
        return _failed(error)


def lazy_read(memory: CoreMemory, token: int, offset: int, ptr: int, length: int) -> int:
    """The lazy_read hook: up to ``length`` bytes of the host file at ``offset``."""
    token &= (1 << 64) - 1
    mount = _mount_of(token)
    if mount is None:
        return -EIO
    try:
        data = mount.read(mount.entry_of(token), offset & ((1 << 64) - 1), length & U32_MASK)
    except OSError as error:
        return -wasi_errno_of(error)
    except BaseException as error:
        return _failed(error)
    memory.write(ptr, data)
    return len(data)


def hooks_for(memory: CoreMemory) -> dict[str, Callable[..., int]]:
    """The two hooks of a core instance on ``memory``, by import name."""
    return {
        "lazy_list": lambda token, ptr, cap: lazy_list(memory, token, ptr, cap),
        "lazy_read": lambda token, offset, ptr, length: lazy_read(
            memory, token, offset, ptr, length
        ),
    }


def forget(number: int) -> None:
    with _mounts_lock:
        mount = _mounts.pop(number, None)
    if mount is not None:
        mount.close()


def new_mount(
    host_path: str | os.PathLike[str], read_only: bool, owner: object | None
) -> HostMount:
    """A registered mount of ``host_path``; it is forgotten (and its fds closed) when
    ``owner`` (the filesystem's shared memory) is collected."""
    if not os.path.isdir(host_path):
        raise NotADirectoryError(host_errno.ENOTDIR, "not a host directory", os.fspath(host_path))
    with _mounts_lock:
        number = _NumberCursor.take()
        mount = HostMount(number, host_path, read_only)
        _mounts[number] = mount
    if owner is not None:
        weakref.finalize(owner, forget, number)
    return mount


def mount_info(mount_token: int) -> HostMount | None:
    return _mount_of(mount_token)


__all__ = ["HostMount", "forget", "hooks_for", "new_mount", "wasi_errno_of"]
