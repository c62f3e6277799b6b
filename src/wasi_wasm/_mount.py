"""Lazy host mounts on a ``Wasi`` (DESIGN.md "Lazy host mounts"): ``mount_host_dir``,
``lazy_info`` and ``write_back_host_dir``. The hooks and the host side are in
``_lazy_host.py``."""

from __future__ import annotations

import contextlib
import errno as host_errno
import os
import posixpath
import stat as host_stat
import weakref
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from ._abi import LAZY_MOUNT_READ_ONLY, LAZY_NONE
from ._errno import check
from ._fs import (
    DEFAULT_MAX_FILE_SIZE,
    READ_RIGHTS,
    StatResult,
    _host_symlink,
    _HostCursor,
    _Loc,
    _make_host_dir,
    _open_host_target,
    _too_large,
    _VfsCursor,
    _walk,
    encode_path,
)
from ._lazy_host import _MOUNT_SHIFT, HostMount, forget, new_mount, shown_entry

if TYPE_CHECKING:
    from ._process import CoreProcess

_ENTRY_MASK = (1 << _MOUNT_SHIFT) - 1  # a token's entry + 1: 1 for a mount's root


class MountMixin:
    """``Wasi.mount_host_dir`` and ``Wasi.write_back_host_dir``."""

    if TYPE_CHECKING:

        def _vfs_process(self) -> tuple[CoreProcess, int]: ...
        def mkdir(self, path: str, parents: bool = False, exist_ok: bool = False) -> None: ...
        def _memory_owner(self) -> object: ...
        def _cursor(
            self, start: _Loc, max_path: int | None = None
        ) -> contextlib.AbstractContextManager[_VfsCursor]: ...
        def _loc(self, path: str) -> _Loc: ...
        def _open_at(self, loc: _Loc, oflags: int, rights: int, *, follow: bool = True) -> int: ...
        def _close(self, fd: int) -> None: ...
        def _readlink_at(self, loc: _Loc) -> bytes: ...
        def _copy_file_out(
            self, loc: _Loc, info: StatResult, host: _HostCursor, name: bytes
        ) -> None: ...

    def mount_host_dir(
        self, host_path: str | os.PathLike[str], vfs_path: str, *, read_only: bool = False
    ) -> None:
        """Mount the host directory ``host_path`` at ``vfs_path`` lazily: its listing and
        file bytes are read from the host when a program (or this API) first needs them,
        so memory holds only what was touched, and the mount is ready at once.

        Changes stay in memory (copy-on-write); the host is never written unless
        ``write_back_host_dir`` is called. With ``read_only`` every change fails with EPERM,
        as in wasmtime's read-only preopens. ``vfs_path`` is created if missing and must be
        an empty directory. Host symlinks are never followed: they appear as symlinks. A
        host file is read once, when first opened; later host changes to it are not seen."""
        raw = encode_path(vfs_path)
        self.mkdir(vfs_path, parents=True, exist_ok=True)
        token, _state, _read_only = self.lazy_info(vfs_path)
        if _vfs_path(vfs_path) in _by_vfs_path(self) or (token != 0 and token & _ENTRY_MASK == 1):
            # A second mount there would hide the first, and the first's write-back would
            # then mirror the second's tree into the first's host directory, deleting all
            # the first has that the second has not.
            raise OSError(host_errno.EBUSY, "is already a lazy mount", vfs_path)
        mount = new_mount(host_path, read_only, self._memory_owner())
        process, _root = self._vfs_process()
        flags = LAZY_MOUNT_READ_ONLY if read_only else 0
        try:
            with process.scratch(len(raw)) as buf:
                process.memory.write(buf, raw)
                code = process.call("wasi_wasm_mount_lazy", buf, len(raw), mount.token(0), flags)
            check(code, vfs_path)
        except BaseException:
            forget(mount.number)
            raise
        _by_vfs_path(self)[_vfs_path(vfs_path)] = mount

    def lazy_info(self, vfs_path: str) -> tuple[int, int, bool]:
        """(token, LAZY_* state, read-only) of the VFS entry at ``vfs_path`` (not followed):
        state 1 is a directory not listed yet, 2 a file whose bytes were not read yet."""
        _process, root = self._vfs_process()
        raw = encode_path(vfs_path).lstrip(b"/") or b"."
        return self._lazy_info_at(_Loc(root, raw, vfs_path))

    def _lazy_info_at(self, loc: _Loc) -> tuple[int, int, bool]:
        process, _root = self._vfs_process()
        with process.scratch(len(loc.rel) + 16) as buf:
            process.memory.write(buf + 16, loc.rel)
            code = process.call("wasi_wasm_lazy_info", loc.fd, buf + 16, len(loc.rel), buf)
            check(code, loc.where)
            token = process.memory.read_u64(buf)
            state, read_only = process.memory.read(buf + 8, 2)
        return token, state, bool(read_only)

    def write_back_host_dir(
        self,
        vfs_path: str,
        host_dir: str | os.PathLike[str] | int | None = None,
        *,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    ) -> None:
        """Apply what programs changed below the lazy mount at ``vfs_path`` to the host
        directory it mounts (the directory it read, through the fd the mount holds, even if
        it was renamed since; FileNotFoundError if it was removed), or to ``host_dir``:
        creates, writes, renames and deletes, and
        nothing else. What is still lazy (never listed, never opened) is neither read nor
        rewritten; a file the programs only read, or left as the last write-back wrote it,
        is left as the host has it (host changes since stay); only names the mount showed
        are removed (what the host gained since the listing stays), and a nested mount's
        root is left to that mount. Entries moved away from where they were on the host
        are read in first, so a source is never removed before its copy is made. A file to
        write larger than ``max_file_size`` (default 4 GiB) raises FileTooLargeError before
        anything on the host changes, as in ``copy_out_tree``."""
        mount = _by_vfs_path(self).get(_vfs_path(vfs_path))
        if mount is None:
            raise ValueError(f"{vfs_path} is no lazy mount of this filesystem")
        # First the moved entries, while their sources exist: this mount's lazy entries
        # anywhere in the filesystem (moved into another mount, or out of every mount: the
        # write-back removes their host sources), and other mounts' moved into this one.
        root = [part for part in encode_path(_vfs_path(vfs_path)).split(b"/") if part]
        _process, vfs_root = self._vfs_process()
        with self._cursor(_Loc(vfs_root, b".", "/")) as plain:
            cursor = _LazyCursor(self, plain, mount, root)
            for name, info in _walk(cursor):
                if info is None or not info.lazy or info.in_place:
                    continue
                if mount.owns(info.token) or cursor.below_root(name):
                    self._load_all(cursor.child(name), info)
        with self._cursor(self._loc(vfs_path)) as plain:  # a copy that cannot finish...
            cursor = _LazyCursor(self, plain, mount)
            for name, info in _walk(cursor):
                size = info.stat.size if info is not None and info.stat.is_file else 0
                if info is not None and not info.lazy and size > max_file_size:
                    raise _too_large(plain.where(name), size, max_file_size, "max_file_size")
        with self._cursor(self._loc(vfs_path)) as plain:  # ...does not start
            cursor = _LazyCursor(self, plain, mount)
            opened = _open_mount_root(mount) if host_dir is None else _open_host_target(host_dir)
            with contextlib.closing(opened) as host:
                self._write_back(cursor, host)

    def _load_all(self, loc: _Loc, info: _LazyInfo) -> None:
        """Every byte below a lazy entry, read in from the host now."""
        if not info.stat.is_dir:
            self._close(self._open_at(loc, 0, READ_RIGHTS, follow=False))
            return
        with self._cursor(loc) as below:
            for name, entry in _walk(below):
                if entry is not None and entry.is_file:
                    self._close(self._open_at(below.child(name), 0, READ_RIGHTS, follow=False))

    def _write_back(self, vfs: _LazyCursor, host: _HostCursor) -> None:
        mount = vfs.mount
        kept: list[set[bytes]] = [set()]
        for name, info in _walk(vfs):
            if info is None:
                # (the walk has left it: name is the directory's own)
                here = [*vfs.parts(), name]
                names = kept.pop()
                _delete_extras(host, names, mount, here)
                mount.synced_names(here, names)
                host.leave()
                continue
            kept[-1].add(name)
            if info.lazy or info.other_mount:  # untouched where the host has it, or another
                continue  # mount's root (a nested mount: that mount's to write back)
            loc = vfs.child(name)
            if info.stat.is_dir:
                _make_host_dir(host, name)
                host.enter(name)
                kept.append(set())
            elif info.stat.is_symlink:
                target = self._readlink_at(loc)
                old = host.lstat_or_none(name)
                if (
                    old is None
                    or not host_stat.S_ISLNK(old.st_mode)
                    or host.readlink(name) != target
                ):
                    _host_symlink(host, name, target)
            elif info.stat.is_file:
                # Written unless the program left it as the mount listed it, or as the last
                # write-back wrote it: then a host change made since stays. (Not by the
                # host's size and mtime: two files alike in both, swapped, would stay.)
                parts = [*vfs.parts(), name]
                stat = info.stat
                written = (stat.ino, stat.size, stat.mtime_ns, stat.ctime_ns)
                if not mount.unchanged_file(parts, info.token, written):
                    self._copy_file_out(loc, stat, host, name)
                    mount.written(parts, written)
        _delete_extras(host, kept[0], mount, [])
        mount.synced_names([], kept[0])


def _open_mount_root(mount: HostMount) -> _HostCursor:
    """A cursor in the directory the mount read, through the fd it opened: the host path
    may name another directory by now (the mounted one renamed away, another made in its
    place), which the write-back must not change."""
    if os.fstat(mount.root_fd).st_nlink == 0:
        message = "the mounted host directory was removed: nothing written back"
        raise FileNotFoundError(host_errno.ENOENT, message, mount.host_path)
    return _HostCursor(os.dup(mount.root_fd), mount.host_path)


def _vfs_path(guest: str) -> str:
    """Where a guest directory lives in the VFS: "/data" and "data" -> "/data"."""
    return posixpath.normpath("/" + guest.lstrip("/"))


def lazy_mounts(
    mounts: Mapping[str, str | os.PathLike[str]] | None,
    read_only_mounts: Mapping[str, str | os.PathLike[str]] | None,
) -> list[tuple[str, str | os.PathLike[str], bool]]:
    """run()'s mounts as (guest name, host directory, read-only)."""
    found = [(guest, host, False) for guest, host in (mounts or {}).items()]
    return found + [(guest, host, True) for guest, host in (read_only_mounts or {}).items()]


def lazy_preopens(lazy: list[tuple[str, str | os.PathLike[str], bool]]) -> dict[str, str]:
    return {guest: _vfs_path(guest) for guest, _host, _read_only in lazy}


def mount_all(wasi: MountMixin, lazy: list[tuple[str, str | os.PathLike[str], bool]]) -> None:
    for guest, host, read_only in lazy:
        wasi.mount_host_dir(host, _vfs_path(guest), read_only=read_only)


_vfs_mounts: weakref.WeakKeyDictionary[object, dict[str, HostMount]] = weakref.WeakKeyDictionary()


def _by_vfs_path(wasi: MountMixin) -> dict[str, HostMount]:
    owner = wasi._memory_owner()
    found = _vfs_mounts.get(owner)
    if found is None:
        found = _vfs_mounts[owner] = {}
    return found


def mounts_of(wasi: MountMixin) -> dict[str, HostMount]:
    """The lazy mounts made on ``wasi``'s filesystem, by VFS path."""
    return dict(_by_vfs_path(wasi))


def iter_lazy(wasi: MountMixin) -> Iterator[HostMount]:
    yield from _by_vfs_path(wasi).values()


class _LazyInfo:
    """A VFS entry's stat and token, whether it is still lazy, whether it is where its host
    entry is, and whether it is the root of another mount (a nested one)."""

    def __init__(
        self, stat: StatResult, token: int, state: int, in_place: bool, other_mount: bool
    ) -> None:
        self.stat = stat
        self.token = token
        self.lazy = state != LAZY_NONE
        self.in_place = in_place
        self.other_mount = other_mount


class _LazyCursor:
    """A ``_VfsCursor`` whose walk enters neither lazy directories (listing them would read
    the host) nor the roots of other mounts, and whose entries say whether they are lazy and
    in their host place."""

    def __init__(
        self, fs: MountMixin, plain: _VfsCursor, mount: HostMount, root: list[bytes] | None = None
    ) -> None:
        self._fs = fs
        self._plain = plain
        self.mount = mount
        # The mount's root, relative to where the walk starts; a walk that starts above it
        # (the whole filesystem's) enters other mounts too.
        self._root = root or []
        self._everywhere = root is not None
        self._path: list[bytes] = []

    def below_root(self, name: bytes) -> bool:
        """Whether ``name`` here lies below the mount's root."""
        here = [*self._path, name]
        return len(here) > len(self._root) and here[: len(self._root)] == self._root

    def parts(self) -> list[bytes]:
        """The current directory's names below the walk's start (the mount's root but for
        the first walk of a write-back)."""
        return list(self._path)

    def names(self) -> list[bytes]:
        return self._plain.names()

    def child(self, name: bytes) -> _Loc:
        return self._plain.child(name)

    def lstat(self, name: bytes) -> _LazyInfo:
        stat = self._plain.lstat(name)
        if stat.is_symlink:
            return _LazyInfo(stat, 0, LAZY_NONE, False, False)
        token, state, _read_only = self._fs._lazy_info_at(self._plain.child(name))
        mount = self.mount
        # The root of another (nested) mount is that mount's to write back, listed or not;
        # anything else is in place only where this mount's host has it.
        other_mount = token & _ENTRY_MASK == 1 and not mount.owns(token)
        in_place = other_mount
        if mount.owns(token):
            where = [*self._root, *mount.parts(mount.entry_of(token))]
            in_place = where == [*self._path, name]
        return _LazyInfo(stat, token, state, in_place, other_mount)

    def is_dir(self, info: _LazyInfo) -> bool:
        return info.stat.is_dir and not info.lazy and (self._everywhere or not info.other_mount)

    def enter(self, name: bytes) -> None:
        self._plain.enter(name)
        self._path.append(name)

    def leave(self) -> None:
        self._plain.leave()
        self._path.pop()


def _delete_extras(
    host: _HostCursor, kept: set[bytes], mount: HostMount, parts: list[bytes]
) -> None:
    """Removes what the program removed: host entries that the mount's listing of this
    directory showed and the VFS no longer has. What the listing never showed stays: an
    entry the VFS cannot hold (shown_entry), one made on the host after the listing (by
    someone else, or by the write-back of an overlapping mount), everything in a directory
    the mount never listed."""
    for name in _removable(host, mount, parts):
        if name not in kept:
            _remove_shown(host, name, mount, [*parts, name])


def _removable(host: _HostCursor, mount: HostMount, parts: list[bytes]) -> list[bytes]:
    """The names in the host directory at ``parts`` (the host cursor's) that the mount's
    last listing of it showed and that it would show still."""
    shown = mount.shown_names(parts)
    found = []
    for name in host.names():
        if name in shown:
            with host.naming(name):
                info = os.stat(name, dir_fd=host.fd, follow_symlinks=False)
                if shown_entry(host.fd, name, info) is not None:
                    found.append(name)
    return found


def _remove_shown(host: _HostCursor, name: bytes, mount: HostMount, parts: list[bytes]) -> None:
    """Removes the host entry ``name`` (at ``parts``): of a directory only what the mount
    showed in it, and the directory only if that leaves it empty; symlinks are removed,
    never followed. In a loop: a tree can be deeper than Python's stack."""
    if not host_stat.S_ISDIR(host.lstat(name).st_mode):
        host.unlink(name)
        return
    host.enter(name)
    path = list(parts)
    stack = [(name, iter(_removable(host, mount, path)))]
    while stack:
        child = next(stack[-1][1], None)
        if child is None:
            done = stack.pop()[0]
            host.leave()
            path.pop()
            try:
                host.rmdir(done)
            except OSError as error:  # what the mount never showed is still in it
                if error.errno not in (host_errno.ENOTEMPTY, host_errno.EEXIST):
                    raise
            continue
        if host_stat.S_ISDIR(host.lstat(child).st_mode):
            host.enter(child)
            path.append(child)
            stack.append((child, iter(_removable(host, mount, path))))
        else:
            host.unlink(child)
