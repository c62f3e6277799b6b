"""Snapshots of a VFS tree as a standard tar archive (POSIX.1-2001 "pax"), and restores.

``save_tar`` walks the tree while the filesystem is frozen (``wasi_wasm_freeze``: the host
process holds the lock exclusive for the whole walk, every other process waits at its next
filesystem call), so the archive is the tree at one moment: names, links, file contents and
times alike. ``load_tar`` builds the archive's tree in a fresh directory of its own and moves
it into place only once it is complete, so a bad or hostile archive, or a full filesystem,
leaves everything that was there as it was.

What an archive keeps (pax records, read back exactly): every entry's kind, mtime and atime
in nanoseconds, symlink targets, hard links (one member per inode, then link members),
holes (GNU sparse format 1.0, which GNU tar and Python's tarfile read). The VFS holds no
permission bits, owners or ctimes (WASI preview 1 has none): an archive gets 0o755 for
directories, 0o644 for files and 0o777 for symlinks, owner 0, and a restore ignores them.

File contents move in bounded pieces (``CHUNK``), never whole files. A snapshot finds a
file's holes with ``wasi_wasm_seek_data`` (the core's chunks that exist, as SEEK_DATA), and a
file of one piece also by its blocks of zeros, so holes are never read.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import IO, TypeVar, cast

from ._abi import E_NXIO, FST_ATIM, FST_MTIM, OFLAG_CREAT, OFLAG_EXCL
from ._errno import EIO, ENOTDIR, SUCCESS, error_from_wasi
from ._fs import (
    CHUNK,
    MAX_VFS_FILE_SIZE,
    READ_RIGHTS,
    U64_MAX,
    WRITE_RIGHTS,
    FilesystemMixin,
    StatResult,
    _check_at,
    _check_range,
    _iovec,
    _Loc,
    _temp_name,
    _too_large,
    _VfsCursor,
    _walk,
    decode_name,
    encode_path,
)

HOLE = 1 << 16  # the core's chunk: a hole is a run of whole all-zero chunks
_ZERO = bytes(HOLE)
_DIR_MODE, _FILE_MODE, _LINK_MODE = 0o755, 0o644, 0o777
_REGULAR = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE, tarfile.GNUTYPE_SPARSE)

Target = str | os.PathLike[str] | IO[bytes]
T = TypeVar("T")


class UnsafeArchiveError(ValueError):
    """An archive member that a restore refuses (an absolute name, ``..``, a path through a
    symlink, a device, a size past the filesystem's largest file...), naming the member.
    Raised before the filesystem changes: the restore's own directory is removed again."""


# -- snapshot ---------------------------------------------------------------------------------
class SnapshotMixin(FilesystemMixin):
    """The filesystem API with snapshots: the tree to a tar archive and back."""

    def save_tar(
        self,
        dest: str | os.PathLike[str] | IO[bytes],
        path: str = "/",
        *,
        max_file_size: int = MAX_VFS_FILE_SIZE,
    ) -> None:
        """Write the tree at ``path`` to ``dest`` (a host path, or a binary file object
        written as a stream) as a pax tar archive of the tree at one moment: the filesystem
        is frozen while it is written (see ``frozen``). Kept: kinds, mtime and atime in
        nanoseconds, symlinks, hard links, holes (GNU sparse 1.0). Not kept: mode bits,
        owners and ctime, which the VFS does not have. Holes are found without reading
        them, so a sparse file costs its data. A file larger than ``max_file_size`` (default:
        none, the VFS's largest file) raises FileTooLargeError before anything is written."""
        save_tar(self, dest, path, max_file_size)

    def load_tar(self, source: str | os.PathLike[str] | IO[bytes], path: str = "/") -> None:
        """Restore a tar archive (pax, GNU or ustar; compressed or not; a host path or a
        binary file object read as a stream) into the directory ``path``, created if missing
        (its parent must exist). All or nothing: the archive is restored into a new
        directory first and moved into place when complete; an entry that exists at
        ``path`` already raises FileExistsError. Hostile members (absolute names, ``..``, a
        path through a symlink, devices, fifos, sizes past the largest file) raise
        UnsafeArchiveError, and running out of space OSError (ENOSPC); either way the
        filesystem is as it was. Programs may run meanwhile: they can see the new directory
        (``path``'s parent, or ``path``, holds a ``.wasi-wasm-*`` entry until the end)."""
        load_tar(self, source, path)


def save_tar(fs: FilesystemMixin, dest: Target, path: str, max_file_size: int) -> None:
    _check_range("max_file_size", max_file_size, U64_MAX)
    start = fs._loc(path)
    with _opened(dest, "wb") as (out, created):
        try:
            with (
                fs.frozen(),
                tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar,
            ):
                if not fs._stat_at(start, follow=True).is_dir:
                    raise error_from_wasi(ENOTDIR, path)
                _Saver(fs, tar, max_file_size).save(start)
        except BaseException:
            if created is not None:
                with contextlib.suppress(OSError):
                    os.unlink(created)
            raise


class _Saver:
    def __init__(self, fs: FilesystemMixin, tar: tarfile.TarFile, max_file_size: int) -> None:
        self.fs = fs
        self.tar = tar
        self.max_file_size = max_file_size
        self.first_name: dict[tuple[int, int], str] = {}  # inodes with several links
        self.dir_atimes: dict[tuple[int, int], int] = {}

    def save(self, start: _Loc) -> None:
        with self.fs._cursor(start) as cursor:
            if self.max_file_size < MAX_VFS_FILE_SIZE:  # else no file can be too large
                self._check_sizes(cursor)
            parts: list[str] = []
            for name, info in _walk(cursor):
                if info is None:
                    parts.pop()
                    continue
                member = "/".join((*parts, decode_name(name)))
                if info.is_dir:
                    atime = self.dir_atimes.get((info.dev, info.ino), info.atime_ns)
                    self._add(member, tarfile.DIRTYPE, _DIR_MODE, replace(info, atime_ns=atime))
                    parts.append(decode_name(name))
                elif info.is_symlink or info.is_file:
                    self._add_leaf(member, cursor.child(name), info)
                # pipes and other kinds have no place in an archive: skipped

    def _check_sizes(self, cursor: _VfsCursor) -> None:
        """Sizes first: a snapshot that cannot finish does not start. Listing a directory
        sets its atime, so directories' atimes are taken from this first walk."""
        for name, info in _walk(cursor):
            if info is None:
                continue
            if info.is_file and info.size > self.max_file_size:
                where = cursor.where(name)
                raise _too_large(where, info.size, self.max_file_size, "max_file_size")
            if info.is_dir:
                self.dir_atimes[info.dev, info.ino] = info.atime_ns

    def _add(
        self, member: str, kind: bytes, mode: int, info: StatResult | None, **fields: object
    ) -> tarfile.TarInfo:
        entry = tarfile.TarInfo(member)
        entry.type = kind
        entry.mode = mode
        entry.uid = entry.gid = 0
        entry.uname = entry.gname = ""
        if info is not None:
            entry.mtime = info.mtime_ns // 1_000_000_000
            entry.pax_headers = {
                "mtime": _pax_time(info.mtime_ns),
                "atime": _pax_time(info.atime_ns),
            }
        for key, value in fields.items():
            setattr(entry, key, value)
        if kind in (tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE):
            self.tar.addfile(entry)
        return entry

    def _add_leaf(self, member: str, loc: _Loc, info: StatResult) -> None:
        key = (info.dev, info.ino)
        if info.nlink > 1:
            first = self.first_name.get(key)
            if first is not None:
                self._add(member, tarfile.LNKTYPE, _FILE_MODE, None, linkname=first)
                return
            self.first_name[key] = member
        if info.is_symlink:
            target = decode_name(self.fs._readlink_at(loc))
            self._add(member, tarfile.SYMTYPE, _LINK_MODE, info, linkname=target)
            return
        fd = self.fs._open_at(loc, 0, READ_RIGHTS, follow=False)
        try:
            self._add_file(member, fd, loc, info)
        finally:
            self.fs._close(fd)

    def _add_file(self, member: str, fd: int, loc: _Loc, info: StatResult) -> None:
        size = info.size
        kept: bytes | None = None
        if size <= CHUNK:  # one piece: read once, kept for the data
            kept = b"".join(_pread_pieces(self.fs, fd, loc, 0, size))
            regions = _data_regions_of(kept, size)
        else:
            regions = _data_runs(self.fs, fd, loc, size)
        entry = self._add(member, tarfile.REGTYPE, _FILE_MODE, info)
        dense = regions == [(0, size)] or size == 0
        if dense:
            entry.size = size
            data: Iterator[bytes] = (
                iter([kept]) if kept is not None else _pread_pieces(self.fs, fd, loc, 0, size)
            )
        else:
            sparse_map = _sparse_map(regions, size)
            entry.size = len(sparse_map) + sum(length for _offset, length in regions)
            entry.name = "GNUSparseFile.0/sparse"  # short: the real name is GNU.sparse.name
            entry.pax_headers = {
                **entry.pax_headers,
                "GNU.sparse.major": "1",
                "GNU.sparse.minor": "0",
                "GNU.sparse.name": member,
                "GNU.sparse.realsize": str(size),
            }
            data = _sparse_data(self.fs, fd, loc, sparse_map, regions=regions, kept=kept)
        self.tar.addfile(entry, _PieceReader(data))


def _pax_time(ns: int) -> str:
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def _pread_pieces(
    fs: FilesystemMixin, fd: int, loc: _Loc, offset: int, length: int
) -> Iterator[bytes]:
    """``length`` bytes of ``fd`` from ``offset``, at most CHUNK at a time (EIO if the file
    is shorter: it cannot be, frozen)."""
    chunk = min(max(length, 1), CHUNK)
    with fs._buffers(chunk, 8, 4) as (process, _root, (buf, iov, read_ptr)):
        while length > 0:
            process.memory.write(iov, _iovec(buf, min(chunk, length)))
            _check_at(process.call("fd_pread", fd, iov, 1, offset, read_ptr), loc)
            count = process.memory.read_u32(read_ptr)
            if count == 0:
                raise error_from_wasi(EIO, loc.where)
            yield process.memory.read(buf, count)
            offset += count
            length -= count


def _data_regions_of(data: bytes, size: int, base: int = 0) -> list[tuple[int, int]]:
    """(offset, length) of the runs of HOLE-aligned blocks of ``data`` (which starts at file
    offset ``base``, a multiple of HOLE) that hold a non-zero byte."""
    regions: list[tuple[int, int]] = []
    view = memoryview(data)
    for start in range(0, len(data), HOLE):
        block = view[start : start + HOLE]
        if block == _ZERO[: len(block)]:
            continue
        offset, length = base + start, min(HOLE, size - base - start)
        if regions and regions[-1][0] + regions[-1][1] == offset:
            regions[-1] = (regions[-1][0], regions[-1][1] + length)
        else:
            regions.append((offset, length))
    return regions


def _data_runs(fs: FilesystemMixin, fd: int, loc: _Loc, size: int) -> list[tuple[int, int]]:
    """(offset, length) of the file's data, found as lseek's SEEK_DATA / SEEK_HOLE would
    (``wasi_wasm_seek_data``, 64 KiB chunks that exist): holes are never read, so a 1 TiB
    sparse file costs what its data costs."""
    runs: list[tuple[int, int]] = []
    offset = 0
    with fs._buffers(8) as (process, _root, (out,)):
        while offset < size:
            code = process.call("wasi_wasm_seek_data", fd, offset, 0, out)
            if code == E_NXIO:
                break
            _check_at(code, loc)
            start = process.memory.read_u64(out)
            _check_at(process.call("wasi_wasm_seek_data", fd, start, 1, out), loc)
            end = min(process.memory.read_u64(out), size)
            runs.append((start, end - start))
            offset = end
    return runs


def _sparse_map(regions: list[tuple[int, int]], size: int) -> bytes:
    """GNU sparse 1.0's map: the number of regions, then offset and length of each, one
    decimal number a line, padded to a 512-byte block. A file that ends in a hole ends with
    an empty region at its size, as GNU tar writes it."""
    entries = list(regions)
    if not entries or entries[-1][0] + entries[-1][1] < size:
        entries.append((size, 0))
    lines = [str(len(entries))] + [f"{o}\n{n}" for o, n in entries]
    text = ("\n".join(lines) + "\n").encode()
    return text + bytes(-len(text) % tarfile.BLOCKSIZE)


def _sparse_data(
    fs: FilesystemMixin,
    fd: int,
    loc: _Loc,
    sparse_map: bytes,
    *,
    regions: list[tuple[int, int]],
    kept: bytes | None,
) -> Iterator[bytes]:
    yield sparse_map
    for offset, length in regions:
        if kept is not None:
            yield kept[offset : offset + length]
        else:
            yield from _pread_pieces(fs, fd, loc, offset, length)


class _PieceReader(io.RawIOBase):
    """A file object over an iterator of byte pieces, for tarfile.addfile, which reads
    exactly the member's size in fixed reads."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        out = bytearray()
        while size is None or size < 0 or len(out) < size:
            if not self._left:
                piece = next(self._pieces, None)
                if piece is None:
                    break
                self._left = memoryview(piece)
                continue
            take = len(self._left) if size is None or size < 0 else size - len(out)
            out += self._left[:take]
            self._left = self._left[take:]
        return bytes(out)


# -- restore ----------------------------------------------------------------------------------
MAX_HEADER_SIZE = 1 << 20  # a pax record set or GNU long name: paths are at most 4 KiB


class _CheckedTarInfo(tarfile.TarInfo):
    """tarfile reads a pax header or a GNU long name whole into memory, whatever size the
    archive declares: a hostile one of gigabytes is refused before it is read."""

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        headers = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE,
                   tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)  # fmt: skip
        if self.type in headers and self.size > MAX_HEADER_SIZE:
            raise UnsafeArchiveError(
                f"an archive header of {self.size} bytes (at offset {self.offset}), over "
                f"{MAX_HEADER_SIZE}: refused"
            )
        return cast(tarfile.TarInfo, super()._proc_member(tarfile_))  # type: ignore[misc]


def load_tar(fs: FilesystemMixin, source: Target, path: str) -> None:
    encode_path(path)
    with _opened(source, "rb") as (stream, _created):  # a missing archive: nothing made
        _load(fs, stream, path)


def _load(fs: FilesystemMixin, stream: IO[bytes], path: str) -> None:
    target = fs._loc(path)
    existing = fs._lstat_or_none(target)
    if existing is not None and not fs._is_dir_at(target):
        raise error_from_wasi(ENOTDIR, path)
    # A fresh directory for the archive's tree: inside the target when it exists (its entries
    # move up one by one), else beside it (renamed to it whole).
    if existing is not None:
        staging_path = _join(path, decode_name(_temp_name()))
    else:
        parent, _slash, _name = path.rstrip("/").rpartition("/")
        staging_path = _join(parent or "/", decode_name(_temp_name()))
    home = fs._loc(staging_path.rpartition("/")[0] or "/")
    home_times = fs._stat_at(home, follow=True)
    fs.mkdir(staging_path)
    try:
        restorer = _Restorer(fs, staging_path)
        with tarfile.open(fileobj=stream, mode="r|*", tarinfo=_CheckedTarInfo) as tar:
            for member in tar:
                restorer.restore(tar, member)
        if existing is None:
            fs.rename(staging_path, path)
        else:
            _move_up(fs, staging_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            if fs._lstat_or_none(fs._loc(staging_path)) is not None:
                fs.rmtree(staging_path)
            # the restore's directory came and went: its parent's times are as they were
            fs._set_times_at(home, home_times.atime_ns, home_times.mtime_ns, follow=True)
        raise
    # Directory times last: every entry made inside a directory changed its times.
    for parts, atime, mtime in reversed(restorer.dir_times):
        fs._set_times_at(fs._loc(_join(path, *parts)), atime, mtime, follow=False)


def _move_up(fs: FilesystemMixin, staging_path: str, path: str) -> None:
    """The restored entries from the staging directory into ``path``, all or none, with the
    filesystem frozen: the check that no name is taken holds for the moves, and programs see
    the entries appear at once."""
    with fs.frozen():
        top = fs.listdir(staging_path)
        for name in top:
            if fs._lstat_or_none(fs._loc(_join(path, name))) is not None:
                message = "the archive's entry exists in the target already"
                raise FileExistsError(errno.EEXIST, message, _join(path, name))
        moved: list[str] = []
        try:
            for name in top:
                fs.rename(_join(staging_path, name), _join(path, name))
                moved.append(name)
            fs.rmdir(staging_path)
        except BaseException:
            for name in moved:  # back where the caller's cleanup removes them
                with contextlib.suppress(OSError):
                    fs.rename(_join(path, name), _join(staging_path, name))
            raise


def _join(base: str, *parts: str) -> str:
    return "/".join((base.rstrip("/"), *parts)) if parts else base


class _Restorer:
    def __init__(self, fs: FilesystemMixin, root: str) -> None:
        self.fs = fs
        self.root = root
        self.dirs: set[tuple[str, ...]] = {()}  # real directories this restore made
        self.dir_times: list[tuple[tuple[str, ...], int | None, int | None]] = []

    def loc(self, parts: tuple[str, ...]) -> _Loc:
        return self.fs._loc(_join(self.root, *parts))

    def restore(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = _member_parts(member.name)
        try:
            self._restore(tar, member, parts)
        except OSError as error:
            message = f"{error.strerror} (restoring this archive member)"
            raise OSError(error.errno, message, member.name) from None

    def _restore(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, parts: tuple[str, ...]
    ) -> None:
        kind = member.type
        if kind not in (*_REGULAR, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE):
            what = {
                tarfile.CHRTYPE: "a character device", tarfile.BLKTYPE: "a block device",
                tarfile.FIFOTYPE: "a fifo",
            }.get(kind, f"of type {kind!r}")  # fmt: skip
            raise UnsafeArchiveError(f"archive member {member.name!r} is {what}: refused")
        if kind in _REGULAR:
            _check_sizes(member)
        if not parts:
            if kind != tarfile.DIRTYPE:
                raise UnsafeArchiveError(f"archive member {member.name!r} names the root")
            return  # the target itself: its times stay the target's
        self._parents(member, parts[:-1])
        loc = self.loc(parts)
        if kind == tarfile.DIRTYPE:
            try:
                self.fs._call_at("path_create_directory", loc)
            except FileExistsError:
                old = self.fs._lstat_or_none(loc)
                if old is None or not old.is_dir:  # a name again: the later entry wins
                    self._fresh(member, loc, lambda: self.fs._call_at("path_create_directory", loc))
            self.dirs.add(parts)
            self.dir_times.append((parts, *_times(member)))
            return
        if kind == tarfile.SYMTYPE:
            target = member.linkname
            if target.startswith("/"):
                raise UnsafeArchiveError(
                    f"archive member {member.name!r} is a symlink to the absolute path "
                    f"{target!r}: the VFS stores relative targets only"
                )
            raw = target.encode("utf-8", "surrogateescape")
            self._fresh(member, loc, lambda: self.fs._symlink_at(raw, loc))
            self._set_times(loc, member)
        elif kind == tarfile.LNKTYPE:
            source_parts = _member_parts(member.linkname)
            if not source_parts:
                raise UnsafeArchiveError(f"archive member {member.name!r} links to the root")
            self._parents(member, source_parts[:-1], make=False)
            source = self.loc(source_parts)
            info = self.fs._lstat_or_none(source)
            if info is None or info.is_dir:
                raise UnsafeArchiveError(
                    f"archive member {member.name!r} is a hard link to {member.linkname!r}, "
                    "which is no file restored before it"
                )
            self._fresh(
                member,
                loc,
                lambda: _check_at(self.fs._two_path_call("path_link", source, loc, 0), loc),
            )
        else:
            self._write(tar, member, loc)

    def _fresh(self, member: tarfile.TarInfo, loc: _Loc, make: Callable[[], T]) -> T:
        """``make()`` the member's entry; a name the archive used before is replaced (a
        later member wins, as in tar), but never a directory."""
        try:
            return make()
        except FileExistsError:
            pass
        old = self.fs._lstat_or_none(loc)
        if old is not None:
            if old.is_dir:
                raise UnsafeArchiveError(
                    f"archive member {member.name!r} would replace a directory: refused"
                )
            self.fs._call_at("path_unlink_file", loc)
        return make()

    def _parents(
        self, member: tarfile.TarInfo, parents: tuple[str, ...], make: bool = True
    ) -> None:
        """Every ancestor of a member must be a real directory of this restore, never a
        symlink (which could lead out of the target): missing ones are made, as tar does."""
        for depth in range(1, len(parents) + 1):
            prefix = parents[:depth]
            if prefix in self.dirs:
                continue
            info = self.fs._lstat_or_none(self.loc(prefix))
            if info is not None and not info.is_dir:
                raise UnsafeArchiveError(
                    f"archive member {member.name!r} goes through {'/'.join(prefix)!r}, "
                    "which is not a directory (a symlink is never followed): refused"
                )
            if info is None:
                if not make:
                    raise UnsafeArchiveError(
                        f"archive member {member.name!r} names {'/'.join(prefix)!r}, "
                        "which the archive has not made"
                    )
                self.fs._call_at("path_create_directory", self.loc(prefix))
            self.dirs.add(prefix)

    def _write(self, tar: tarfile.TarFile, member: tarfile.TarInfo, loc: _Loc) -> None:
        """The member's data, read straight from the archive stream: only blocks with a
        non-zero byte are written, so holes (sparse members, and runs of zeros in plain
        ones) cost the filesystem nothing."""
        regions = _regions(member)
        stream = tar.fileobj
        assert stream is not None
        stream.seek(member.offset_data)
        fs = self.fs
        fd = self._fresh(
            member,
            loc,
            lambda: fs._open_at(loc, OFLAG_CREAT | OFLAG_EXCL, WRITE_RIGHTS, follow=False),
        )
        written_end = 0
        try:
            with fs._buffers(CHUNK, 8, 4) as (process, _root, (buf, iov, written_ptr)):
                for offset, length in regions:
                    end = offset + length
                    position = offset
                    while position < end:
                        # pieces end on HOLE boundaries of the file, so blocks compare whole
                        step = min(end, (position // HOLE + CHUNK // HOLE) * HOLE) - position
                        piece = stream.read(step)
                        if len(piece) != step:
                            raise tarfile.ReadError(f"archive member {member.name!r} is cut short")
                        for start in range(0, step, HOLE):
                            block = piece[start : start + HOLE]
                            if block == _ZERO[: len(block)]:
                                continue
                            process.memory.write(buf, block)
                            process.memory.write(iov, _iovec(buf, len(block)))
                            at = position + start
                            written_end = at + len(block)
                            while True:
                                code = process.call("fd_pwrite", fd, iov, 1, at, written_ptr)
                                _check_at(code, loc)
                                done = process.memory.read_u32(written_ptr)
                                if done >= len(block) or done == 0:
                                    break
                                block = block[done:]
                                at += done
                                process.memory.write(buf, block)
                                process.memory.write(iov, _iovec(buf, len(block)))
                        position += step
                if written_end != member.size:  # ends in a hole
                    _check_at(process.call("fd_filestat_set_size", fd, member.size), loc)
        finally:
            fs._close(fd)
        self._set_times(loc, member)

    def _set_times(self, loc: _Loc, member: tarfile.TarInfo) -> None:
        atime, mtime = _times(member)
        flags = (FST_ATIM if atime is not None else 0) | (FST_MTIM if mtime is not None else 0)
        with self.fs._buffers(len(loc.rel)) as (process, _root, (path_ptr,)):
            process.memory.write(path_ptr, loc.rel)
            code = process.call(
                "path_filestat_set_times", loc.fd, 0, path_ptr, len(loc.rel),
                atime or 0, mtime or 0, flags,
            )  # fmt: skip
        if code != SUCCESS:
            _check_at(code, loc)


def _member_parts(name: str) -> tuple[str, ...]:
    """A member's name as components below the target: "./a//b/" is ("a", "b"); an absolute
    name or one with ``..`` is refused."""
    if name.startswith("/") or name.startswith("\\"):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute name: refused")
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise UnsafeArchiveError(f"archive member {name!r} has a '..' component: refused")
    return parts


def _check_sizes(member: tarfile.TarInfo) -> None:
    if member.size > MAX_VFS_FILE_SIZE or member.size < 0:
        raise UnsafeArchiveError(
            f"archive member {member.name!r} is {member.size} bytes, over the filesystem's "
            f"largest file ({MAX_VFS_FILE_SIZE} bytes): refused"
        )
    if member.sparse is not None:
        end = 0
        for offset, length in _regions(member):
            if offset < end or length < 0 or offset + length > member.size:
                raise UnsafeArchiveError(
                    f"archive member {member.name!r} has a sparse map out of order or past "
                    "its size: refused"
                )
            end = offset + length


def _regions(member: tarfile.TarInfo) -> list[tuple[int, int]]:
    """The (offset, length) runs of a member's data: its sparse map without the empty
    entries that end one (old GNU maps are padded with (0, 0)), or the whole file."""
    if member.sparse is None:
        return [(0, member.size)]
    runs = cast("list[tuple[int, int]]", member.sparse)  # typeshed says list[int]
    return [(offset, length) for offset, length in runs if length != 0]


def _times(member: tarfile.TarInfo) -> tuple[int | None, int | None]:
    """(atime, mtime) in nanoseconds, exactly as the pax records give them (tarfile reads
    them as floats, which keep only microseconds); a time before 1970 is 0."""
    headers = member.pax_headers
    mtime = _parse_time(headers.get("mtime"))
    if mtime is None:
        mtime = max(0, int(member.mtime)) * 1_000_000_000
    return _parse_time(headers.get("atime")), mtime


def _parse_time(text: str | None) -> int | None:
    if text is None:
        return None
    negative = text.startswith("-")
    whole, _dot, fraction = text.lstrip("-").partition(".")
    try:
        ns = int(whole or "0") * 1_000_000_000 + int((fraction + "000000000")[:9])
    except ValueError:
        return None
    return 0 if negative else min(ns, U64_MAX)


@contextlib.contextmanager
def _opened(target: Target, mode: str) -> Iterator[tuple[IO[bytes], str | None]]:
    """A binary file object for ``target``: a path is opened (and named, when created, so a
    failed snapshot can remove it); a file object is used as it is and left open."""
    if isinstance(target, (str, os.PathLike)):
        name = os.fspath(target)
        with open(name, mode) as handle:
            yield handle, name if "w" in mode else None
    else:
        yield target, None


__all__ = ["UnsafeArchiveError", "load_tar", "save_tar"]
