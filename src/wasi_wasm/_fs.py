"""Host-side filesystem API. Each operation is one export of the core (``wasi_wasm_fs_*``,
dev/host/fs_*.c, the same the JS loader calls), made from an internal "host process" with
arguments in scratch buffers in core memory: this module marshals them and turns errnos into
exceptions naming the path.

Paths are absolute VFS paths ("/a/b"), passed relative to the host process's preopened VFS
root (or, deep in a tree walk, to a directory fd the walk opened).

What a guest leaves in the VFS is hostile input to the host: it can be deeper than any path,
hold sparse files of a terabyte, and put symlinks where the host expects directories. So:
- tree walks are loops over directory fds, never recursion or full path strings
  (``_walk``, ``_VfsCursor``, ``_HostCursor``);
- a copy to the host never follows a host symlink and replaces entries by renaming new ones
  over them, so it never writes outside its target (``_HostCursor``,
  ``_replace_host_entry``);
- file contents move in bounded chunks, and a file larger than the caller's maximum is
  refused before anything is read or changed (``FileTooLargeError``);
- a call checks everything it can before it changes anything, and a file is replaced only
  once its new content is complete (``_replace_file``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import errno
import functools
import os
import posixpath
import secrets
import stat as host_stat
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import NamedTuple, Protocol, TypeVar

from . import _abi
from ._abi import (
    E_NAMETOOLONG as ENAMETOOLONG,
)
from ._abi import (
    FST_ATIM,
    FST_MTIM,
    LOOKUP_SYMLINK_FOLLOW,
    OFLAG_DIRECTORY,
    RIGHT_FD_FILESTAT_GET,
    RIGHT_FD_FILESTAT_SET_SIZE,
    RIGHT_FD_READ,
    RIGHT_FD_SEEK,
    RIGHT_FD_TELL,
    RIGHT_FD_WRITE,
    RIGHTS_ALL,
)
from ._errno import ENOENT, SUCCESS, check, error_from_wasi
from ._limits import MAX_NAME_CAP, MAX_PATH_CAP
from ._process import CoreProcess

CHUNK = 1 << 20  # bytes moved per fd_read / fd_write call
# A read that sees another file renamed over its path starts again; after this many, it
# reads with the filesystem frozen (wasi_wasm_freeze).
UNFROZEN_READS = 2


T = TypeVar("T")


class _ReplacedError(Exception):
    """Another file was renamed over the path while it was read in chunks."""


# read_file builds the content in Python memory: the default filesystem budget (1 GiB) bounds
# every file a program writes, but not a sparse one (a 1 TiB file costs the VFS a few bytes).
DEFAULT_MAX_READ_SIZE = 1 << 30
# Copy-out streams, and a file with real data cannot exceed the core memory (4 GiB); a larger
# one is mostly holes, whose zeros copy-out would still have to read to find the data.
DEFAULT_MAX_FILE_SIZE = 1 << 32
U64_MAX = (1 << 64) - 1
MAX_VFS_FILE_SIZE = (1 << 44) - 4096  # the core's largest file (EFBIG past it)

# all but FD_WRITE: a directory opened to write is EISDIR
ANCHOR_RIGHTS = RIGHTS_ALL & ~RIGHT_FD_WRITE

TEMP_PREFIX = b".wasi-wasm-"
_ZERO_CHUNK = bytes(CHUNK)
_HOST_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_HOST_BELOW = _HOST_DIR | os.O_NOFOLLOW  # every name below a host root
_HOST_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_HOST_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


READ_RIGHTS = RIGHT_FD_READ | RIGHT_FD_SEEK | RIGHT_FD_TELL | RIGHT_FD_FILESTAT_GET
WRITE_RIGHTS = (
    RIGHT_FD_WRITE | RIGHT_FD_SEEK | RIGHT_FD_TELL | RIGHT_FD_FILESTAT_GET
    | RIGHT_FD_FILESTAT_SET_SIZE
)  # fmt: skip


class FileType(enum.IntEnum):
    """wasi_snapshot_preview1 `filetype`."""

    UNKNOWN = _abi.FILETYPE_UNKNOWN
    BLOCK_DEVICE = _abi.FILETYPE_BLOCK_DEVICE
    CHARACTER_DEVICE = _abi.FILETYPE_CHARACTER_DEVICE
    DIRECTORY = _abi.FILETYPE_DIRECTORY
    REGULAR_FILE = _abi.FILETYPE_REGULAR_FILE
    SOCKET_DGRAM = _abi.FILETYPE_SOCKET_DGRAM
    SOCKET_STREAM = _abi.FILETYPE_SOCKET_STREAM
    SYMBOLIC_LINK = _abi.FILETYPE_SYMBOLIC_LINK


@dataclasses.dataclass(frozen=True)
class StatResult:
    """A WASI `filestat`; times in nanoseconds."""

    dev: int
    ino: int
    filetype: FileType
    nlink: int
    size: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int

    @property
    def is_dir(self) -> bool:
        return self.filetype == FileType.DIRECTORY

    @property
    def is_file(self) -> bool:
        return self.filetype == FileType.REGULAR_FILE

    @property
    def is_symlink(self) -> bool:
        return self.filetype == FileType.SYMBOLIC_LINK

    @classmethod
    def unpack(cls, raw: bytes) -> StatResult:
        def u64(offset: int) -> int:
            return int.from_bytes(raw[offset : offset + 8], "little")

        kind = raw[16]
        filetype = FileType(kind) if kind in FileType._value2member_map_ else FileType.UNKNOWN
        return cls(u64(0), u64(8), filetype, u64(24), u64(32), u64(40), u64(48), u64(56))


class FileTooLargeError(OSError):
    """A file larger than the caller's maximum (errno EFBIG), refused before anything was read
    or changed."""


FILESTAT_SIZE = 64
LIST_BUFFER = 1 << 16  # bytes of names per wasi_wasm_fs_list call
LIST_RECORD_HEADER = 3  # u16 name length, u8 filetype
MKDIR_PARENTS, MKDIR_EXIST_OK = 1, 2  # wasi_wasm_fs_mkdir's flags


def encode_path(path: str) -> bytes:
    """An absolute VFS path as bytes relative to the preopened root."""
    if not isinstance(path, str):
        raise TypeError(f"a VFS path must be a str, not {type(path).__name__}")
    if not path.startswith("/"):
        raise ValueError(f"VFS paths are absolute, got {path!r}")
    return path.lstrip("/").encode("utf-8", "surrogateescape") or b"."


def decode_name(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


class _Loc(NamedTuple):
    """A VFS name as the core takes it: a directory fd and a path relative to it, with the
    path that errors name (made only when needed: deep in a tree it is long)."""

    fd: int
    rel: bytes
    label: str | Callable[[], str]

    @property
    def where(self) -> str:
        return self.label if isinstance(self.label, str) else self.label()


class FilesystemMixin:
    """The filesystem methods of ``Wasi``; all operate on the shared VFS.

    Each operation is one export of the core (``wasi_wasm_fs_*``, dev/host/fs_*.c), the same
    the JS loader calls: this class only moves arguments into core buffers and turns errnos
    into exceptions naming the path."""

    @abstractmethod
    def _vfs_process(self) -> tuple[CoreProcess, int]:
        """The internal host process and the fd of its preopened VFS root."""

    # -- plumbing ---------------------------------------------------------------------------
    @contextmanager
    def _buffers(self, *sizes: int) -> Iterator[tuple[CoreProcess, int, list[int]]]:
        """One scratch allocation split into 8-byte aligned buffers of the given sizes."""
        process, root = self._vfs_process()
        offsets = []
        total = 0
        for size in sizes:
            offsets.append(total)
            total += (size + 7) & ~7
        with process.scratch(total) as base:
            yield process, root, [base + offset for offset in offsets]

    def _loc(self, path: str) -> _Loc:
        _process, root = self._vfs_process()
        return _Loc(root, encode_path(path), path)

    def _open_at(
        self, loc: _Loc, oflags: int, rights: int, *, follow: bool = True, inheriting: int = 0
    ) -> int:
        with self._buffers(len(loc.rel), 4) as (process, _root, (path_ptr, fd_ptr)):
            process.memory.write(path_ptr, loc.rel)
            dirflags = LOOKUP_SYMLINK_FOLLOW if follow else 0
            code = process.call(
                "path_open", loc.fd, dirflags, path_ptr, len(loc.rel), oflags, rights,
                inheriting, 0, fd_ptr,
            )  # fmt: skip
            _check_at(code, loc)
            return process.memory.read_u32(fd_ptr)

    def _close(self, fd: int) -> None:
        process, _root = self._vfs_process()
        process.call("fd_close", fd)

    def _call_at(self, function: str, loc: _Loc, *args: int) -> None:
        """``function(loc.fd, path_ptr, path_len, *args)``, raising for an error."""
        with self._buffers(len(loc.rel)) as (process, _root, (path_ptr,)):
            process.memory.write(path_ptr, loc.rel)
            code = process.call(function, loc.fd, path_ptr, len(loc.rel), *args)
        _check_at(code, loc)

    def _largest_accepted(self, probe: bytes) -> int:
        """The longest prefix of ``probe`` that the core does not refuse as too long.

        The core exports no getter for its limits, and any process may change them, so a walk
        measures them when it starts: the core answers ENAMETOOLONG exactly when a path or a
        name is over its limit (a path of "." and slashes names the root; a missing name is
        ENOENT)."""
        with self._buffers(len(probe), FILESTAT_SIZE) as (process, root, (ptr, out)):
            process.memory.write(ptr, probe)
            low, high = 1, len(probe)  # every limit is at least 1
            while low < high:
                middle = (low + high + 1) // 2
                code = process.call("wasi_wasm_fs_stat", root, ptr, middle, 0, out)
                low, high = (low, middle - 1) if code == ENAMETOOLONG else (middle, high)
            return low

    def _max_path(self) -> int:
        return self._largest_accepted(b"." + b"/" * (MAX_PATH_CAP - 1))

    def _max_name(self) -> int:
        return self._largest_accepted(b"n" * MAX_NAME_CAP)

    @contextmanager
    def _cursor(self, start: _Loc, max_path: int | None = None) -> Iterator[_VfsCursor]:
        cursor = _VfsCursor(self, start, self._max_path() if max_path is None else max_path)
        try:
            yield cursor
        finally:
            cursor.close()

    # -- files ------------------------------------------------------------------------------
    def write_file(self, path: str, data: bytes | bytearray | memoryview) -> None:
        """Create or replace the file at ``path`` with ``data``.

        All or nothing: the data goes to a new file that no directory names until it is
        complete, then takes ``path``'s place, so a failure (ENOSPC, say) leaves the old
        content, or no file, as it was. As with an editor's atomic save, the file is a new
        one: a symlink at ``path`` is followed (the file it names is replaced, where open()
        would write), but other hard links keep the old content, and so do programs that
        have it open. Missing parent directories are not made (FileNotFoundError)."""
        view = memoryview(data).cast("B")
        self._replace_file(self._loc(path), [view])

    def _replace_file(
        self, loc: _Loc, pieces: Iterable[bytes | memoryview], times: tuple[int, int] | None = None
    ) -> None:
        """Write ``pieces`` to a new file and put it at ``loc`` (wasi_wasm_fs_file_new,
        _append, _commit): a failure (ENOSPC above all) leaves whatever was at ``loc`` as it
        was. A directory at ``loc`` is EISDIR, checked before anything is written."""
        with self._buffers(len(loc.rel), 4) as (process, _root, (path_ptr, out)):
            process.memory.write(path_ptr, loc.rel)
            code = process.call("wasi_wasm_fs_file_new", loc.fd, path_ptr, len(loc.rel), out)
            _check_at(code, loc)
            handle = process.memory.read_u32(out)
        try:
            for piece in pieces:
                self._append(handle, memoryview(piece), loc)
        except BaseException:
            process.call("wasi_wasm_fs_file_drop", handle)
            raise
        atime, mtime = times if times is not None else (0, 0)
        flags = FST_ATIM | FST_MTIM if times is not None else 0
        with self._buffers(len(loc.rel)) as (process, _root, (path_ptr,)):
            process.memory.write(path_ptr, loc.rel)
            code = process.call(
                "wasi_wasm_fs_file_commit", handle, loc.fd, path_ptr, len(loc.rel), atime, mtime,
                flags,
            )  # fmt: skip
        _check_at(code, loc)

    def _append(self, handle: int, view: memoryview, loc: _Loc) -> None:
        """Append ``view`` to the new file through a scratch buffer (from the core's reserve,
        outside the filesystem's byte limit) of at most CHUNK bytes."""
        chunk = min(max(len(view), 1), CHUNK)
        with self._buffers(chunk) as (process, _root, (buf,)):
            for position in range(0, len(view), chunk):
                piece = view[position : position + chunk]
                process.memory.write(buf, piece)
                _check_at(process.call("wasi_wasm_fs_file_append", handle, buf, len(piece)), loc)

    def read_file(self, path: str, *, max_size: int = DEFAULT_MAX_READ_SIZE) -> bytes:
        """The whole content of the file at ``path``.

        The content is built in Python memory, so a file larger than ``max_size`` bytes
        (default 1 GiB) raises FileTooLargeError before anything is read."""
        _check_range("max_size", max_size, U64_MAX)

        def whole(size: int, pieces: Iterator[bytes]) -> bytes:
            if size > max_size:
                raise _too_large(path, size, max_size, "max_size")
            return b"".join(pieces)

        return self._one_file(self._loc(path), whole)

    def _one_file(self, loc: _Loc, use: Callable[[int, Iterator[bytes]], T]) -> T:
        """use(size, chunks) on the file at loc, started again when another file was renamed
        over the path meanwhile (a read of many chunks re-resolves the path at each), the
        last time with the filesystem frozen: the bytes are always one file's."""
        for attempt in range(UNFROZEN_READS + 1):
            with self.frozen() if attempt == UNFROZEN_READS else contextlib.nullcontext():
                size, ino, _data = self._read_at(loc, 0, 0)
                with contextlib.suppress(_ReplacedError):
                    return use(size, self._read_chunks(loc, size, ino))
        raise AssertionError("a file was replaced while the filesystem was frozen")

    def _read_at(self, loc: _Loc, offset: int, length: int) -> tuple[int, int, bytes]:
        """The file's size, inode number and up to ``length`` bytes from ``offset``
        (wasi_wasm_fs_read)."""
        with self._buffers(len(loc.rel), length, 24) as (process, _root, (path_ptr, buf, out)):
            process.memory.write(path_ptr, loc.rel)
            code = process.call(
                "wasi_wasm_fs_read", loc.fd, path_ptr, len(loc.rel), offset, buf, length, out
            )
            _check_at(code, loc)
            raw = process.memory.read(out, 24)
            size, ino = int.from_bytes(raw[:8], "little"), int.from_bytes(raw[16:], "little")
            return size, ino, process.memory.read(buf, int.from_bytes(raw[8:12], "little"))

    def _read_chunks(self, loc: _Loc, size: int, ino: int) -> Iterator[bytes]:
        """At most ``size`` bytes of inode ``ino``, CHUNK at a time: memory stays bounded
        however large the file is, and a file growing meanwhile cannot push past ``size``.
        Raises _ReplacedError when the path names another inode."""
        offset = 0
        while offset < size:
            _size, now, piece = self._read_at(loc, offset, min(CHUNK, size - offset))
            if now != ino:
                raise _ReplacedError
            if not piece:
                return
            yield piece
            offset += len(piece)

    # -- metadata ---------------------------------------------------------------------------
    def stat(self, path: str, *, follow_symlinks: bool = True) -> StatResult:
        return self._stat_at(self._loc(path), follow=follow_symlinks)

    def _stat_at(self, loc: _Loc, *, follow: bool) -> StatResult:
        code, raw = self._filestat(loc, follow)
        _check_at(code, loc)
        return StatResult.unpack(raw)

    def _lstat_or_none(self, loc: _Loc) -> StatResult | None:
        code, raw = self._filestat(loc, False)
        if code == ENOENT:
            return None
        _check_at(code, loc)
        return StatResult.unpack(raw)

    def _filestat(self, loc: _Loc, follow: bool) -> tuple[int, bytes]:
        with self._buffers(len(loc.rel), FILESTAT_SIZE) as (process, _root, (path_ptr, out)):
            process.memory.write(path_ptr, loc.rel)
            code = process.call("wasi_wasm_fs_stat", loc.fd, path_ptr, len(loc.rel), follow, out)
            return code, process.memory.read(out, FILESTAT_SIZE)

    def lstat(self, path: str) -> StatResult:
        return self.stat(path, follow_symlinks=False)

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists (following symlinks, like os.path.exists)."""
        try:
            self.stat(path)
        except OSError:
            return False
        return True

    def is_dir(self, path: str) -> bool:
        return self._is_dir_at(self._loc(path))

    def _is_dir_at(self, loc: _Loc) -> bool:
        try:
            return self._stat_at(loc, follow=True).is_dir
        except OSError:
            return False

    def is_file(self, path: str) -> bool:
        try:
            return self.stat(path).is_file
        except OSError:
            return False

    def set_times(
        self,
        path: str,
        *,
        atime_ns: int | None = None,
        mtime_ns: int | None = None,
        follow_symlinks: bool = True,
    ) -> None:
        """Set access and/or modification time (None leaves that time unchanged)."""
        for what, value in (("atime_ns", atime_ns), ("mtime_ns", mtime_ns)):
            if value is not None:
                _check_range(what, value, U64_MAX)
        self._set_times_at(self._loc(path), atime_ns, mtime_ns, follow=follow_symlinks)

    def _set_times_at(
        self, loc: _Loc, atime_ns: int | None, mtime_ns: int | None, *, follow: bool
    ) -> None:
        flags = (FST_ATIM if atime_ns is not None else 0) | (
            FST_MTIM if mtime_ns is not None else 0
        )
        self._call_at("wasi_wasm_fs_set_times", loc, follow, atime_ns or 0, mtime_ns or 0, flags)

    # -- directories ------------------------------------------------------------------------
    def mkdir(self, path: str, parents: bool = False, exist_ok: bool = False) -> None:
        """Create a directory (``parents`` = mkdir -p for the missing ancestors). If one of
        them cannot be made, those this call made are removed again: a failure changes
        nothing."""
        flags = (MKDIR_PARENTS if parents else 0) | (MKDIR_EXIST_OK if exist_ok else 0)
        self._call_at("wasi_wasm_fs_mkdir", self._loc(path), flags)

    def listdir(self, path: str = "/") -> list[str]:
        """Names in directory ``path``, without "." and "..", in the core's order."""
        return [decode_name(name) for name in self._names_at(self._loc(path))]

    def _names_at(self, loc: _Loc) -> list[bytes]:
        return [name for name, _stat in self._list_at(loc, with_stat=False)]

    def _entries_at(self, loc: _Loc) -> list[tuple[bytes, StatResult]]:
        """The directory's names with each entry's lstat: a walk's step, one call of the
        core for a directory (while its names fit in LIST_BUFFER)."""
        return [(name, StatResult.unpack(raw)) for name, raw in self._list_at(loc, with_stat=True)]

    def _list_at(self, loc: _Loc, *, with_stat: bool) -> list[tuple[bytes, bytes]]:
        """wasi_wasm_fs_list until its cookie says the listing is complete: (name, filestat
        bytes, empty without with_stat) for each entry."""
        entries: list[tuple[bytes, bytes]] = []
        stat_size = FILESTAT_SIZE if with_stat else 0
        cookie = 0
        with self._buffers(len(loc.rel), LIST_BUFFER, 8) as (process, _root, (path_ptr, buf, out)):
            process.memory.write(path_ptr, loc.rel)
            while True:
                code = process.call(
                    "wasi_wasm_fs_list", loc.fd, path_ptr, len(loc.rel), cookie, with_stat, buf,
                    LIST_BUFFER, out,
                )  # fmt: skip
                _check_at(code, loc)
                used, cookie = process.memory.read_u32(out), process.memory.read_u32(out + 4)
                data = process.memory.read(buf, used)
                position = 0
                while position < used:
                    length = int.from_bytes(data[position : position + 2], "little")
                    start = position + LIST_RECORD_HEADER
                    stat = data[start : start + stat_size]
                    entries.append((data[start + stat_size : start + stat_size + length], stat))
                    position = start + stat_size + length
                if cookie == 0:
                    return entries

    def rmdir(self, path: str) -> None:
        """Remove an empty directory."""
        self._call_at("wasi_wasm_fs_rmdir", self._loc(path))

    def rmtree(self, path: str) -> None:
        """Remove a directory and everything below it (symlinks are removed, not followed),
        however deep the tree is: one call of the core, in one hold of its lock."""
        self._call_at("wasi_wasm_fs_rmtree", self._loc(path))

    def _remove_at(self, loc: _Loc, info: StatResult) -> None:
        removal = "wasi_wasm_fs_rmtree" if info.is_dir else "wasi_wasm_fs_unlink"
        self._call_at(removal, loc)

    # -- names ------------------------------------------------------------------------------
    def remove(self, path: str) -> None:
        """Remove a file or symlink (directories: ``rmdir`` / ``rmtree``)."""
        self._call_at("wasi_wasm_fs_unlink", self._loc(path))

    def _two_path_call(self, function: str, first: _Loc, second: _Loc, flags: int | None) -> int:
        """A WASI function of two paths (path_rename, path_link)."""
        a, b = first.rel, second.rel
        with self._buffers(len(a), len(b)) as (process, _root, (a_ptr, b_ptr)):
            process.memory.write(a_ptr, a)
            process.memory.write(b_ptr, b)
            head = (first.fd,) if flags is None else (first.fd, flags)
            return process.call(function, *head, a_ptr, len(a), second.fd, b_ptr, len(b))

    def _two_paths(self, function: str, src: str, dst: str) -> None:
        a, b = encode_path(src), encode_path(dst)
        with self._buffers(len(a), len(b)) as (process, root, (a_ptr, b_ptr)):
            process.memory.write(a_ptr, a)
            process.memory.write(b_ptr, b)
            code = process.call(function, root, a_ptr, len(a), b_ptr, len(b))
        check(code, src, dst)

    def rename(self, src: str, dst: str) -> None:
        self._two_paths("wasi_wasm_fs_rename", src, dst)

    def link(self, src: str, dst: str) -> None:
        """Create hard link ``dst`` to the file ``src``."""
        self._two_paths("wasi_wasm_fs_link", src, dst)

    def symlink(self, target: str, path: str) -> None:
        """Create symlink ``path`` whose content is ``target`` (stored as given)."""
        if not isinstance(target, str):
            raise TypeError(f"a symlink target must be a str, not {type(target).__name__}")
        self._symlink_at(target.encode("utf-8", "surrogateescape"), self._loc(path))

    def _symlink_at(self, target: bytes, loc: _Loc) -> None:
        with self._buffers(len(target), len(loc.rel)) as (process, _root, (t_ptr, p_ptr)):
            process.memory.write(t_ptr, target)
            process.memory.write(p_ptr, loc.rel)
            code = process.call(
                "wasi_wasm_fs_symlink", t_ptr, len(target), loc.fd, p_ptr, len(loc.rel)
            )
        _check_at(code, loc)

    def readlink(self, path: str) -> str:
        return decode_name(self._readlink_at(self._loc(path)))

    def _readlink_at(self, loc: _Loc) -> bytes:
        size = 256
        while True:
            with self._buffers(len(loc.rel), size, 4) as (process, _root, (path_ptr, buf, out)):
                process.memory.write(path_ptr, loc.rel)
                code = process.call(
                    "wasi_wasm_fs_readlink", loc.fd, path_ptr, len(loc.rel), buf, size, out
                )
                _check_at(code, loc)
                length = process.memory.read_u32(out)
                if length <= size:
                    return process.memory.read(buf, length)
            size = length  # the whole target's length: ask again with room for it

    # -- trees from the host into the VFS ---------------------------------------------------
    def copy_in_tree(self, host_dir: str | os.PathLike[str], vfs_dir: str) -> None:
        """Copy a host directory tree into the VFS at ``vfs_dir`` (created if missing).
        Symlinks are copied as symlinks; files' modification times are kept; an entry of
        another kind in the VFS is replaced; fifos, sockets and devices are skipped.

        Everything that can be checked is checked before the VFS changes, and errors name
        the host path: names and symlink targets that are not UTF-8 (EILSEQ: WASI paths are),
        absolute symlink targets (EPERM: the core refuses them, as wasmtime does), names and
        targets over the filesystem's limits (ENAMETOOLONG), and files or directories that
        cannot be read. Only running out of space (ENOSPC) can stop the copy part-way."""
        start = self._loc(vfs_dir)
        max_path, max_name = self._max_path(), self._max_name()
        where = os.fspath(host_dir)
        with contextlib.closing(_HostCursor(os.open(where, _HOST_DIR), where)) as host:
            _check_copy_in(host, max_path, max_name)
            self.mkdir(vfs_dir, parents=True, exist_ok=True)
            with self._cursor(start, max_path) as vfs:
                self._copy_in(host, vfs)

    def _copy_in(self, host: _HostCursor, vfs: _VfsCursor) -> None:
        """What each VFS directory holds comes from one listing when the copy enters it (a
        step of the walk), so an entry costs only the calls that make it."""
        vfs.names()
        for name, info in _walk(host):
            if info is None:
                vfs.leave()
                continue
            loc = vfs.child(name)
            try:
                self._copy_entry_in(host, name, info, loc, vfs.lstat_listed(name))
            except OSError as error:
                raise _renamed(error, host.where(name), loc.where) from None
            if host_stat.S_ISDIR(info.st_mode):
                vfs.enter(name)
                vfs.names()

    def _copy_entry_in(
        self, host: _HostCursor, name: bytes, info: os.stat_result, loc: _Loc,
        old: StatResult | None,
    ) -> None:  # fmt: skip
        if host_stat.S_ISDIR(info.st_mode):
            if old is not None and not old.is_dir:
                self._remove_at(loc, old)
            if old is None or not old.is_dir:
                self._call_at("wasi_wasm_fs_mkdir", loc, 0)
        elif host_stat.S_ISLNK(info.st_mode):
            if old is not None:
                self._remove_at(loc, old)
            self._symlink_at(host.readlink(name), loc)
        elif host_stat.S_ISREG(info.st_mode):
            if old is not None and old.is_dir:
                self._call_at("wasi_wasm_fs_rmtree", loc)
            fd = host.open_file(name)
            try:
                self._replace_file(loc, _host_chunks(fd), (info.st_atime_ns, info.st_mtime_ns))
            finally:
                os.close(fd)

    # -- trees from the VFS out to the host -------------------------------------------------
    def copy_out_tree(
        self,
        vfs_dir: str,
        host_dir: str | os.PathLike[str] | int,
        *,
        delete: bool = False,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    ) -> None:
        """Copy a VFS tree to the host directory ``host_dir`` (created if missing).

        Existing host entries are replaced; with ``delete`` host entries that are not in the
        VFS are removed too, so the host tree mirrors the VFS tree. Symlinks are copied as
        symlinks, their targets as they are (never resolved); holes in files stay holes.

        Nothing is written or removed outside ``host_dir``: every name below it is opened
        relative to its directory's fd without following symlinks, a host symlink where the
        VFS has a directory is replaced (never followed), and files and symlinks are made
        under a temporary name and renamed over the old entry (so a host hard link is not
        written through either). ``host_dir``'s ancestors are resolved as given, but a
        symlink at ``host_dir`` itself is refused (ELOOP) before anything changes. A caller
        that copies out several nested trees should pass, as ``host_dir``, a directory fd it
        opened before the programs ran: then an earlier copy-out that replaced an ancestor by
        a symlink cannot redirect a later one.

        A file larger than ``max_file_size`` (default 4 GiB) raises FileTooLargeError before
        anything on the host changes."""
        _check_range("max_file_size", max_file_size, U64_MAX)
        with self._cursor(self._loc(vfs_dir)) as vfs:
            _check_copy_out(vfs, max_file_size)
            with contextlib.closing(_open_host_target(host_dir)) as host:
                self._copy_out(vfs, host, delete)

    def _copy_out(self, vfs: _VfsCursor, host: _HostCursor, delete: bool) -> None:
        kept: list[set[bytes]] = [set()]  # the VFS names of each directory being copied
        for name, info in _walk(vfs):
            if info is None:
                _leave_host_dir(host, kept.pop(), delete)
                continue
            kept[-1].add(name)
            if info.is_dir:
                _make_host_dir(host, name)
                host.enter(name)
                kept.append(set())
            elif info.is_symlink:
                _host_symlink(host, name, self._readlink_at(vfs.child(name)))
            elif info.is_file:
                self._copy_file_out(vfs.child(name), info, host, name)
        if delete:
            _delete_host_extras(host, kept[0])

    def _copy_file_out(self, loc: _Loc, info: StatResult, host: _HostCursor, name: bytes) -> None:
        def make(temp: bytes, old: os.stat_result | None) -> None:
            out = os.open(temp, _HOST_NEW, 0o666, dir_fd=host.fd)
            try:
                if old is not None and host_stat.S_ISREG(old.st_mode):
                    os.fchmod(out, host_stat.S_IMODE(old.st_mode))  # keep e.g. its x bits
                self._one_file(loc, lambda size, pieces: _write_sparse(out, pieces, size))
                os.utime(out, ns=(info.atime_ns, info.mtime_ns))
            finally:
                os.close(out)

        _replace_host_entry(host, name, make)

    # -- snapshots (tar archives; _snapshot.py) ---------------------------------------------
    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Freeze the whole filesystem while the block runs: this Wasi's calls see it at one
        moment, and every other program waits at its next filesystem call (its timeout
        too) until the block ends. Keep the block short; it may nest. A program run, another
        Wasi's call or a close in this thread inside the block raises RuntimeError: it would
        wait for the block's end, for ever."""
        process, _root = self._vfs_process()
        depth = getattr(self, "_freeze_depth", 0)
        self._freeze_depth = depth + 1
        try:
            if depth == 0:
                check(process.freeze(), "/")
            yield
        finally:
            self._freeze_depth = depth
            if depth == 0:  # (EINVAL, harmless, if the freeze never began)
                process.thaw()


# -- walking trees of any depth -------------------------------------------------------------
InfoT = TypeVar("InfoT")


class _Cursor(Protocol[InfoT]):
    """A position in a tree walk: one directory, entered and left one level at a time."""

    def names(self) -> list[bytes]: ...
    def lstat(self, name: bytes) -> InfoT: ...
    def is_dir(self, info: InfoT) -> bool: ...
    def enter(self, name: bytes) -> None: ...
    def leave(self) -> None: ...


def _walk(cursor: _Cursor[InfoT]) -> Iterator[tuple[bytes, InfoT | None]]:
    """Every entry below the cursor's directory, depth first, in a loop: a tree can be far
    deeper than Python's stack. Yields ``(name, info)`` with the cursor in the entry's
    directory; after a directory's step the walk enters it (when the consumer asks for the
    next step) and yields its entries, then ``(name, None)`` once the cursor is back."""
    stack = [(b"", iter(cursor.names()))]
    while stack:
        name = next(stack[-1][1], None)
        if name is None:
            left = stack.pop()[0]
            if stack:
                cursor.leave()
                yield left, None
            continue
        info = cursor.lstat(name)
        yield name, info
        if cursor.is_dir(info):
            cursor.enter(name)
            stack.append((name, iter(cursor.names())))


def _empty(cursor: _HostCursor) -> None:
    """Remove everything in the host cursor's directory (symlinks removed, never followed;
    a VFS tree is removed by the core: wasi_wasm_fs_rmtree)."""
    for name, info in _walk(cursor):
        if info is None:
            cursor.rmdir(name)
        elif not cursor.is_dir(info):
            cursor.unlink(name)


@dataclasses.dataclass
class _Level:
    fd: int
    rel: bytes
    owned: bool = False  # fd is an anchor this cursor opened, closed when the level is left
    # each entry's lstat, from the listing (one core call a directory)
    listed: dict[bytes, StatResult] = dataclasses.field(default_factory=dict)


class _VfsCursor:
    """Where a walk of a VFS tree stands, whatever its depth.

    The core refuses a path longer than the filesystem's max_path, but a program can make a
    tree deeper than any path (one directory fd at a time). So a directory is named by a path
    relative to an anchor fd that stays within max_path: when a name below the current
    directory would not fit, the current directory is opened and becomes the anchor. A walk
    holds one fd per max_path bytes of depth: none for a tree whose paths fit, so a 100 %
    full filesystem (where a new fd block cannot be had) can still be walked."""

    def __init__(self, fs: FilesystemMixin, start: _Loc, max_path: int) -> None:
        self._fs = fs
        self._max_path = max_path
        self._levels = [_Level(start.fd, start.rel)]
        self._where = start.where
        self._path: list[bytes] = []

    def where(self, name: bytes | None = None) -> str:
        return self._label(name)()

    def _label(self, name: bytes | None = None) -> Callable[[], str]:
        parts = tuple(self._path) if name is None else (*self._path, name)
        return functools.partial(_vfs_where, self._where, parts)

    def child(self, name: bytes) -> _Loc:
        """``name`` in the current directory (relative to a new anchor when the path would
        not fit in max_path)."""
        level = self._levels[-1]
        if level.rel != b"." and len(level.rel) + 1 + len(name) > self._max_path:
            here = _Loc(level.fd, level.rel, self._label())
            anchor = self._fs._open_at(here, OFLAG_DIRECTORY, ANCHOR_RIGHTS, inheriting=RIGHTS_ALL)
            level.fd, level.rel, level.owned = anchor, b".", True
        rel = name if level.rel == b"." else level.rel + b"/" + name
        return _Loc(level.fd, rel, self._label(name))

    def names(self) -> list[bytes]:
        level = self._levels[-1]
        level.listed = dict(self._fs._entries_at(_Loc(level.fd, level.rel, self._label())))
        return list(level.listed)

    def lstat(self, name: bytes) -> StatResult:
        """What the listing said of ``name`` (else the core is asked)."""
        info = self.lstat_listed(name)
        return info if info is not None else self._fs._stat_at(self.child(name), follow=False)

    def lstat_listed(self, name: bytes) -> StatResult | None:
        """What the listing said of ``name``: None if it had no such entry."""
        return self._levels[-1].listed.pop(name, None)

    def is_dir(self, info: StatResult) -> bool:
        return info.is_dir

    def enter(self, name: bytes) -> None:
        loc = self.child(name)
        self._levels.append(_Level(loc.fd, loc.rel))
        self._path.append(name)

    def leave(self) -> None:
        level = self._levels.pop()
        self._path.pop()
        if level.owned:
            self._fs._close(level.fd)

    def close(self) -> None:
        for level in self._levels:
            if level.owned:
                level.owned = False
                self._fs._close(level.fd)


def _vfs_where(start: str, parts: tuple[bytes, ...]) -> str:
    return posixpath.join(start, *map(decode_name, parts))


class _HostCursor:
    """Where a walk of a host tree stands: one open directory fd, whatever the depth.

    Each directory is opened relative to its parent's fd with O_NOFOLLOW, so a symlink below
    the root is never followed, and no path string is built (PATH_MAX does not apply). Going
    back up opens ".." and checks it is the directory the walk came from (device and inode):
    a tree moved under the walk stops it rather than sending it elsewhere."""

    def __init__(self, fd: int, where: str) -> None:
        self.fd = fd
        self._where = where
        self._path: list[bytes] = []
        self._ids = [_identity(fd)]

    def where(self, name: bytes | None = None) -> str:
        parts = self._path if name is None else [*self._path, name]
        return os.path.join(self._where, *(os.fsdecode(part) for part in parts))

    @contextmanager
    def naming(self, name: bytes | None = None) -> Iterator[None]:
        """OSErrors name the whole host path (a call relative to a directory fd names only
        the last component)."""
        try:
            yield
        except OSError as error:
            raise _renamed(error, self.where(name)) from None

    def names(self) -> list[bytes]:
        with self.naming():
            return sorted(os.fsencode(name) for name in os.listdir(self.fd))

    def lstat(self, name: bytes) -> os.stat_result:
        with self.naming(name):
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)

    def lstat_or_none(self, name: bytes) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise _renamed(error, self.where(name)) from None

    def is_dir(self, info: os.stat_result) -> bool:
        return host_stat.S_ISDIR(info.st_mode)

    def enter(self, name: bytes) -> None:
        with self.naming(name):
            fd = os.open(name, _HOST_BELOW, dir_fd=self.fd)
        self._ids.append(_identity(fd))
        os.close(self.fd)
        self.fd = fd
        self._path.append(name)

    def leave(self) -> None:
        with self.naming():
            parent = os.open(b"..", _HOST_BELOW, dir_fd=self.fd)
        self._ids.pop()
        self._path.pop()
        if _identity(parent) != self._ids[-1]:
            os.close(parent)
            raise OSError(errno.ESTALE, "the host directory moved during the copy", self.where())
        os.close(self.fd)
        self.fd = parent

    def unlink(self, name: bytes) -> None:
        with self.naming(name):
            os.unlink(name, dir_fd=self.fd)

    def rmdir(self, name: bytes) -> None:
        with self.naming(name):
            os.rmdir(name, dir_fd=self.fd)

    def readlink(self, name: bytes) -> bytes:
        with self.naming(name):
            return os.readlink(name, dir_fd=self.fd)

    def open_file(self, name: bytes) -> int:
        with self.naming(name):
            return os.open(name, _HOST_FILE, dir_fd=self.fd)

    def close(self) -> None:
        os.close(self.fd)


def _identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


def _renamed(error: OSError, filename: str, filename2: str | None = None) -> OSError:
    """``error`` naming other paths (OSError picks the subclass from the errno again)."""
    return OSError(error.errno, error.strerror, filename, None, filename2)


# -- copy-in checks -------------------------------------------------------------------------
def _check_copy_in(host: _HostCursor, max_path: int, max_name: int) -> None:
    """Refuse, naming the host path, what the VFS cannot store, before anything is copied."""
    for name, info in _walk(host):
        if info is None:
            continue
        problem = _vfs_bytes_problem(name, max_name, "name")
        if problem is None and host_stat.S_ISLNK(info.st_mode):
            problem = _link_target_problem(host.readlink(name), max_path)
        if problem is not None:
            raise OSError(*problem, host.where(name))
        if host_stat.S_ISREG(info.st_mode):
            os.close(host.open_file(name))  # readable now, so the copy will not stop at it


def _vfs_bytes_problem(raw: bytes, limit: int, what: str) -> tuple[int, str] | None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return errno.EILSEQ, f"{what} is not valid UTF-8 (WASI paths must be)"
    if len(raw) > limit:
        return errno.ENAMETOOLONG, f"{what} is longer than the filesystem's {limit} bytes"
    return None


def _link_target_problem(target: bytes, max_path: int) -> tuple[int, str] | None:
    if target.startswith(b"/"):
        return errno.EPERM, "absolute symlink targets cannot be stored in the VFS"
    return _vfs_bytes_problem(target, max_path, "symlink target")


def _host_chunks(fd: int) -> Iterator[bytes]:
    while piece := os.read(fd, CHUNK):
        yield piece


# -- copy-out on the host side --------------------------------------------------------------
def _check_copy_out(vfs: _VfsCursor, max_file_size: int) -> None:
    """A copy that cannot finish must not start: every size is checked before the host
    changes."""
    for name, info in _walk(vfs):
        if info is not None and info.is_file and info.size > max_file_size:
            raise _too_large(vfs.where(name), info.size, max_file_size, "max_file_size")


def _too_large(where: str, size: int, maximum: int, keyword: str) -> FileTooLargeError:
    return FileTooLargeError(errno.EFBIG, f"file is {size} bytes, over {keyword}={maximum}", where)


def _open_host_target(host_dir: str | os.PathLike[str] | int) -> _HostCursor:
    """A cursor in the host directory a copy-out writes into (created if missing). An fd is
    taken as it is. A path's ancestors are resolved as given (the caller's choice), but the
    directory itself must not be a symlink: an earlier copy-out of an enclosing tree may have
    put one there, so following it could lead anywhere, and replacing it could destroy a link
    the caller relies on (macOS's /tmp): it is refused."""
    if isinstance(host_dir, int):
        return _HostCursor(os.dup(host_dir), f"<fd {host_dir}>")
    path = os.path.abspath(os.fspath(host_dir))
    os.makedirs(path, exist_ok=True)
    parent, name = os.path.split(path)
    if not name:  # the root directory
        return _HostCursor(os.open(path, _HOST_DIR), path)
    cursor = _HostCursor(os.open(parent, _HOST_DIR), parent)
    try:
        if host_stat.S_ISLNK(cursor.lstat(os.fsencode(name)).st_mode):
            message = "is a symlink, and a copy-out never follows one: give the directory"
            raise OSError(errno.ELOOP, message, path)
        cursor.enter(os.fsencode(name))
    except BaseException:
        cursor.close()
        raise
    return cursor


def _make_host_dir(host: _HostCursor, name: bytes) -> None:
    """A real directory at ``name``: whatever else is there (a symlink above all) is
    removed first, never followed."""
    old = host.lstat_or_none(name)
    if old is not None and host_stat.S_ISDIR(old.st_mode):
        return
    with host.naming(name):
        if old is not None:
            os.unlink(name, dir_fd=host.fd)
        os.mkdir(name, dir_fd=host.fd)


def _replace_host_entry(
    host: _HostCursor, name: bytes, make: Callable[[bytes, os.stat_result | None], None]
) -> None:
    """Make a new entry under a temporary name (``make(temp, old_entry)``), then rename it
    over ``name``: a symlink or hard link there is replaced, never written through, and no
    one sees a half-written file."""
    old = host.lstat_or_none(name)
    if old is not None and host_stat.S_ISDIR(old.st_mode):
        _remove_host_entry(host, name, old)
    temp = _temp_name()
    with host.naming(name):
        try:
            make(temp, old)
            os.rename(temp, name, src_dir_fd=host.fd, dst_dir_fd=host.fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=host.fd)
            raise


def _host_symlink(host: _HostCursor, name: bytes, target: bytes) -> None:
    def make(temp: bytes, _old: os.stat_result | None) -> None:
        os.symlink(target, temp, dir_fd=host.fd)

    _replace_host_entry(host, name, make)


def _write_sparse(out: int, pieces: Iterable[bytes], size: int) -> None:
    """Holes stay holes: the file gets its size first (reading as zeros) and only chunks with
    a non-zero byte are written, so a sparse VFS file costs the host only its data."""
    os.ftruncate(out, 0)  # what an attempt before wrote (_one_file) goes
    os.ftruncate(out, size)
    position = 0
    for piece in pieces:
        if piece != _ZERO_CHUNK[: len(piece)]:
            written = 0
            while written < len(piece):
                written += os.pwrite(out, piece[written:], position + written)
        position += len(piece)


def _leave_host_dir(host: _HostCursor, kept: set[bytes], delete: bool) -> None:
    if delete:
        _delete_host_extras(host, kept)
    host.leave()


def _delete_host_extras(host: _HostCursor, kept: set[bytes]) -> None:
    for name in host.names():
        if name not in kept:
            _remove_host_entry(host, name, host.lstat(name))


def _remove_host_entry(host: _HostCursor, name: bytes, info: os.stat_result) -> None:
    if host_stat.S_ISDIR(info.st_mode):
        host.enter(name)
        _empty(host)
        host.leave()
        host.rmdir(name)
    else:
        host.unlink(name)


def _temp_name() -> bytes:
    """A name beside an entry being replaced, made with O_EXCL: it cannot meet one in use."""
    return TEMP_PREFIX + secrets.token_hex(6).encode()


def _check_range(what: str, value: object, high: int) -> None:
    """An integer the core takes in a fixed-width field must fit it: outside, it would be cut
    to its low bits (2**64 + 5 stored as 5) or wrap (-1 as 2**64 - 1)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not 0 <= value <= high:
        raise ValueError(f"{what} must be between 0 and {high}, got {value}")


def _check_at(code: int, loc: _Loc) -> None:
    """``check`` naming ``loc``, whose path is made only for an error."""
    if code != SUCCESS:
        raise error_from_wasi(code, loc.where)


def _iovec(ptr: int, length: int) -> bytes:
    return ptr.to_bytes(4, "little") + length.to_bytes(4, "little")
