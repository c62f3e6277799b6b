"""Host-side filesystem API: Python calls the core's own WASI functions on an internal
"host process" whose memory is the core memory itself, so a guest pointer is simply a
scratch buffer in core memory.

Paths are absolute VFS paths ("/a/b"); the host process has the VFS root preopened.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import errno
import os
import posixpath
import shutil
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager

from ._errno import EEXIST, EIO, EISDIR, ENOENT, ENOTDIR, check, error_from_wasi
from ._process import CoreProcess

CHUNK = 1 << 20  # bytes moved per fd_read / fd_write call

LOOKUP_SYMLINK_FOLLOW = 1
OFLAG_CREAT, OFLAG_DIRECTORY, OFLAG_EXCL, OFLAG_TRUNC = 1, 2, 4, 8
FSTFLAG_ATIM, FSTFLAG_MTIM = 1, 4


class Right(enum.IntFlag):
    """The wasi_snapshot_preview1 rights this API asks for."""

    FD_READ = 1 << 1
    FD_SEEK = 1 << 2
    FD_TELL = 1 << 5
    FD_WRITE = 1 << 6
    FD_READDIR = 1 << 14
    FD_FILESTAT_GET = 1 << 21
    FD_FILESTAT_SET_SIZE = 1 << 22


READ_RIGHTS = Right.FD_READ | Right.FD_SEEK | Right.FD_TELL | Right.FD_FILESTAT_GET
WRITE_RIGHTS = (
    Right.FD_WRITE | Right.FD_SEEK | Right.FD_TELL | Right.FD_FILESTAT_GET
    | Right.FD_FILESTAT_SET_SIZE
)  # fmt: skip
# FD_READ too: the core (like libc's opendir) treats a directory opened without it as unreadable.
READDIR_RIGHTS = Right.FD_READ | Right.FD_READDIR | Right.FD_FILESTAT_GET


class FileType(enum.IntEnum):
    """wasi_snapshot_preview1 `filetype`."""

    UNKNOWN = 0
    BLOCK_DEVICE = 1
    CHARACTER_DEVICE = 2
    DIRECTORY = 3
    REGULAR_FILE = 4
    SOCKET_DGRAM = 5
    SOCKET_STREAM = 6
    SYMBOLIC_LINK = 7


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


FILESTAT_SIZE = 64
DIRENT_HEADER = 24


def encode_path(path: str) -> bytes:
    """An absolute VFS path as bytes relative to the preopened root."""
    if not isinstance(path, str):
        raise TypeError(f"a VFS path must be a str, not {type(path).__name__}")
    if not path.startswith("/"):
        raise ValueError(f"VFS paths are absolute, got {path!r}")
    return path.lstrip("/").encode("utf-8", "surrogateescape") or b"."


def decode_name(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


class FilesystemMixin:
    """The filesystem methods of ``Wasi``; all operate on the shared VFS."""

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

    def _open(self, path: str, oflags: int, rights: int, follow: bool = True) -> int:
        raw = encode_path(path)
        with self._buffers(len(raw), 4) as (process, root, (path_ptr, fd_ptr)):
            process.memory.write(path_ptr, raw)
            dirflags = LOOKUP_SYMLINK_FOLLOW if follow else 0
            code = process.call(
                "path_open", root, dirflags, path_ptr, len(raw), oflags, rights, 0, 0, fd_ptr
            )
            check(code, path)
            return process.memory.read_u32(fd_ptr)

    def _close(self, fd: int) -> None:
        process, _root = self._vfs_process()
        process.call("fd_close", fd)

    def _path_call(self, function: str, path: str, *before: int) -> int:
        """Call ``function(*before, path_ptr, path_len)`` relative to the root; returns errno."""
        raw = encode_path(path)
        with self._buffers(len(raw)) as (process, root, (path_ptr,)):
            process.memory.write(path_ptr, raw)
            return process.call(function, root, *before, path_ptr, len(raw))

    # -- files ------------------------------------------------------------------------------
    def write_file(self, path: str, data: bytes | bytearray | memoryview) -> None:
        """Create or truncate the file at ``path`` and write ``data``. A file this call
        created is removed again if the write fails (ENOSPC, say)."""
        view = memoryview(data).cast("B")
        existed = self.exists(path)
        fd = self._open(path, OFLAG_CREAT | OFLAG_TRUNC, WRITE_RIGHTS)
        try:
            self._write_all(fd, view, path)
        except OSError:
            self._close(fd)
            fd = -1
            if not existed:
                with contextlib.suppress(OSError):
                    self.remove(path)
            raise
        finally:
            if fd >= 0:
                self._close(fd)

    def _write_all(self, fd: int, view: memoryview, path: str) -> None:
        """Write ``view`` to ``fd`` through a scratch buffer (from the core's reserve, outside
        the filesystem's byte limit) of at most CHUNK bytes."""
        chunk = min(max(len(view), 1), CHUNK)
        with self._buffers(chunk, 8, 4) as (process, _root, (buf, iov, written_ptr)):
            position = 0
            while position < len(view):
                piece = view[position : position + chunk]
                process.memory.write(buf, piece)
                process.memory.write(iov, _iovec(buf, len(piece)))
                check(process.call("fd_write", fd, iov, 1, written_ptr), path)
                written = process.memory.read_u32(written_ptr)
                if written == 0:
                    raise error_from_wasi(EIO, path)
                position += written

    def read_file(self, path: str) -> bytes:
        """The whole content of the file at ``path``."""
        fd = self._open(path, 0, READ_RIGHTS)
        try:
            info = self._fstat(fd, path)
            if info.is_dir:
                # WASI lets a directory be opened and then fails the read with EBADF;
                # Python's open() reports this case as IsADirectoryError.
                raise error_from_wasi(EISDIR, path)
            size = info.size
            chunk = min(max(size, 1), CHUNK)
            parts = bytearray()
            with self._buffers(chunk, 8, 4) as (process, _root, (buf, iov, read_ptr)):
                process.memory.write(iov, _iovec(buf, chunk))
                while True:
                    check(process.call("fd_read", fd, iov, 1, read_ptr), path)
                    count = process.memory.read_u32(read_ptr)
                    if count == 0:
                        return bytes(parts)
                    parts += process.memory.read(buf, count)
        finally:
            self._close(fd)

    def _fstat(self, fd: int, path: str) -> StatResult:
        with self._buffers(FILESTAT_SIZE) as (process, _root, (out,)):
            check(process.call("fd_filestat_get", fd, out), path)
            return StatResult.unpack(process.memory.read(out, FILESTAT_SIZE))

    # -- metadata ---------------------------------------------------------------------------
    def stat(self, path: str, *, follow_symlinks: bool = True) -> StatResult:
        raw = encode_path(path)
        with self._buffers(len(raw), FILESTAT_SIZE) as (process, root, (path_ptr, out)):
            process.memory.write(path_ptr, raw)
            flags = LOOKUP_SYMLINK_FOLLOW if follow_symlinks else 0
            check(process.call("path_filestat_get", root, flags, path_ptr, len(raw), out), path)
            return StatResult.unpack(process.memory.read(out, FILESTAT_SIZE))

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
        try:
            return self.stat(path).is_dir
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
        flags = (FSTFLAG_ATIM if atime_ns is not None else 0) | (
            FSTFLAG_MTIM if mtime_ns is not None else 0
        )
        raw = encode_path(path)
        with self._buffers(len(raw)) as (process, root, (path_ptr,)):
            process.memory.write(path_ptr, raw)
            lookup = LOOKUP_SYMLINK_FOLLOW if follow_symlinks else 0
            code = process.call(
                "path_filestat_set_times", root, lookup, path_ptr, len(raw),
                atime_ns or 0, mtime_ns or 0, flags,
            )  # fmt: skip
        check(code, path)

    # -- directories ------------------------------------------------------------------------
    def mkdir(self, path: str, parents: bool = False, exist_ok: bool = False) -> None:
        """Create a directory (``parents`` = mkdir -p for the missing ancestors)."""
        encode_path(path)  # a bad path fails here, before any ancestor is created
        if parents:
            parent = posixpath.dirname(path.rstrip("/"))
            if parent not in ("", "/") and not self.is_dir(parent):
                self.mkdir(parent, parents=True, exist_ok=True)
        code = self._path_call("path_create_directory", path)
        if code == EEXIST and exist_ok and self.is_dir(path):
            return
        check(code, path)

    def listdir(self, path: str = "/") -> list[str]:
        """Names in directory ``path``, without "." and "..", in the core's order."""
        fd = self._open(path, OFLAG_DIRECTORY, READDIR_RIGHTS)
        try:
            return [name for name in self._read_dir(fd, path) if name not in (".", "..")]
        finally:
            self._close(fd)

    def _read_dir(self, fd: int, path: str) -> list[str]:
        names: list[str] = []
        cookie = 0
        size = 1 << 16
        while True:
            with self._buffers(size, 4) as (process, _root, (buf, used_ptr)):
                check(process.call("fd_readdir", fd, buf, size, cookie, used_ptr), path)
                used = process.memory.read_u32(used_ptr)
                data = process.memory.read(buf, used)
            position = 0
            while position + DIRENT_HEADER <= used:
                name_length = int.from_bytes(data[position + 16 : position + 20], "little")
                end = position + DIRENT_HEADER + name_length
                if end > used:
                    break  # entry cut off by the buffer: read it again from its cookie
                names.append(decode_name(data[position + DIRENT_HEADER : end]))
                cookie = int.from_bytes(data[position : position + 8], "little")
                position = end
            if used < size:
                return names  # a short buffer means the end of the directory
            if position == 0:
                size *= 2  # not even one entry fitted

    def rmdir(self, path: str) -> None:
        """Remove an empty directory."""
        check(self._path_call("path_remove_directory", path), path)

    def rmtree(self, path: str) -> None:
        """Remove a directory and everything below it (symlinks are removed, not followed)."""
        if not self.lstat(path).is_dir:
            raise error_from_wasi(ENOTDIR, path)  # as shutil.rmtree does
        for name in self.listdir(path):
            child = posixpath.join(path, name)
            if self.lstat(child).is_dir:
                self.rmtree(child)
            else:
                self.remove(child)
        self.rmdir(path)

    # -- names ------------------------------------------------------------------------------
    def remove(self, path: str) -> None:
        """Remove a file or symlink (directories: ``rmdir`` / ``rmtree``)."""
        check(self._path_call("path_unlink_file", path), path)

    def _two_path_call(self, function: str, first: str, second: str, flags: int | None) -> int:
        a, b = encode_path(first), encode_path(second)
        with self._buffers(len(a), len(b)) as (process, root, (a_ptr, b_ptr)):
            process.memory.write(a_ptr, a)
            process.memory.write(b_ptr, b)
            head = (root,) if flags is None else (root, flags)
            return process.call(function, *head, a_ptr, len(a), root, b_ptr, len(b))

    def rename(self, src: str, dst: str) -> None:
        check(self._two_path_call("path_rename", src, dst, None), src, dst)

    def link(self, src: str, dst: str) -> None:
        """Create hard link ``dst`` to the file ``src``."""
        check(self._two_path_call("path_link", src, dst, 0), src, dst)

    def symlink(self, target: str, path: str) -> None:
        """Create symlink ``path`` whose content is ``target`` (stored as given)."""
        if not isinstance(target, str):
            raise TypeError(f"a symlink target must be a str, not {type(target).__name__}")
        raw_target = target.encode("utf-8", "surrogateescape")
        raw = encode_path(path)
        with self._buffers(len(raw_target), len(raw)) as (process, root, (t_ptr, p_ptr)):
            process.memory.write(t_ptr, raw_target)
            process.memory.write(p_ptr, raw)
            code = process.call("path_symlink", t_ptr, len(raw_target), root, p_ptr, len(raw))
        check(code, path)

    def readlink(self, path: str) -> str:
        raw = encode_path(path)
        size = 256
        while True:
            with self._buffers(len(raw), size, 4) as (process, root, (path_ptr, buf, used_ptr)):
                process.memory.write(path_ptr, raw)
                code = process.call("path_readlink", root, path_ptr, len(raw), buf, size, used_ptr)
                check(code, path)
                used = process.memory.read_u32(used_ptr)
                if used < size:
                    return decode_name(process.memory.read(buf, used))
            size *= 4  # the target may have been cut off: retry with room to spare

    # -- trees between the host and the VFS -------------------------------------------------
    def copy_in_tree(self, host_dir: str | os.PathLike[str], vfs_dir: str) -> None:
        """Copy a host directory tree into the VFS at ``vfs_dir`` (created if missing).
        Symlinks are copied as symlinks; modification times are kept.

        Names that are not UTF-8 and symlinks with absolute targets cannot be stored (WASI
        refuses them, as wasmtime does): they raise OSError (EILSEQ, EPERM) naming the host
        path before anything is copied."""
        encode_path(vfs_dir)
        _check_host_tree(host_dir)
        self._copy_in(host_dir, vfs_dir)

    def _copy_in(self, host_dir: str | os.PathLike[str], vfs_dir: str) -> None:
        # List first: a missing or unreadable host directory changes nothing in the VFS.
        with os.scandir(host_dir) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        self.mkdir(vfs_dir, parents=True, exist_ok=True)
        for entry in entries:
            target = posixpath.join(vfs_dir, entry.name)
            if entry.is_symlink():
                if self._lexists(target):
                    self.remove(target)
                self.symlink(os.readlink(entry.path), target)
            elif entry.is_dir():
                self._copy_in(entry.path, target)
            elif entry.is_file():
                with open(entry.path, "rb") as source:
                    self.write_file(target, source.read())
                info = entry.stat()
                self.set_times(target, atime_ns=info.st_atime_ns, mtime_ns=info.st_mtime_ns)
            # fifos, sockets and devices have no VFS counterpart: skipped

    def copy_out_tree(
        self, vfs_dir: str, host_dir: str | os.PathLike[str], *, delete: bool = False
    ) -> None:
        """Copy a VFS tree to the host directory ``host_dir`` (created if missing).

        Existing host entries are replaced; with ``delete`` host entries that are not in the
        VFS are removed too, so the host tree mirrors the VFS tree. A host symlink is never
        written through: it is replaced."""
        host = os.fspath(host_dir)
        os.makedirs(host, exist_ok=True)
        names = self.listdir(vfs_dir)
        for name in names:
            source = posixpath.join(vfs_dir, name)
            target = os.path.join(host, name)
            info = self.lstat(source)
            if info.is_dir:
                if os.path.islink(target) or (
                    os.path.lexists(target) and not os.path.isdir(target)
                ):
                    os.unlink(target)
                self.copy_out_tree(source, target, delete=delete)
            elif info.is_symlink:
                _remove_host(target)
                os.symlink(self.readlink(source), target)
            elif info.is_file:
                if os.path.islink(target) or os.path.isdir(target):
                    _remove_host(target)
                with open(target, "wb") as out:
                    out.write(self.read_file(source))
                os.utime(target, ns=(info.atime_ns, info.mtime_ns))
        if delete:
            for name in set(os.listdir(host)) - set(names):
                _remove_host(os.path.join(host, name))

    def _lexists(self, path: str) -> bool:
        try:
            self.lstat(path)
        except OSError:
            return False
        return True


def _check_host_tree(host_dir: str | os.PathLike[str]) -> None:
    """Raise, naming the host path, for what copy_in_tree cannot store in the VFS."""
    root = os.fspath(host_dir)
    if not os.path.isdir(root):
        raise error_from_wasi(ENOENT if not os.path.lexists(root) else ENOTDIR, root)
    for directory, subdirs, files in os.walk(root):
        for name in subdirs + files:
            path = os.path.join(directory, name)
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                message = "name is not valid UTF-8 (WASI paths must be)"
                raise OSError(errno.EILSEQ, message, path) from None
            if os.path.islink(path) and os.readlink(path).startswith("/"):
                message = "absolute symlink targets cannot be stored in the VFS"
                raise OSError(errno.EPERM, message, path)


def _iovec(ptr: int, length: int) -> bytes:
    return ptr.to_bytes(4, "little") + length.to_bytes(4, "little")


def _remove_host(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)
