"""A small pure-Python reference model of the filesystem semantics that
tests/programs/fuzz_driver.c exercises: what wasmtime's WASI gives on Linux, plus the
wasi.wasm-only behaviour where wasmtime is not the reference (see docs/HOST_NOTES.md):

- fd_allocate (wasmtime: ENOTSUP);
- rights: an fd opened by path_open has exactly the rights asked for, masked by the
  directory fd's inheriting rights; it can read iff FD_READ is among them and write iff
  FD_WRITE is (O_CREAT and O_TRUNC do not make it writable); every other call needs its
  right (ENOTCAPABLE). wasmtime ignores the rights except to pick the access mode, so
  tests/test_fuzz_ops.py compares with wasmtime only sequences whose rights mean the same
  to both (``with_wasmtime_rights`` there).

``run_model(ops)`` returns exactly the lines the driver would print for the same
operations. The model covers the path shapes the "model" strategy of tests/test_fuzz_ops.py
generates: relative paths of plain names (intermediate ".." and "." allowed, no trailing or
doubled slashes, no empty paths); the wasmtime comparison covers the rest. It follows
wasmtime on those too -- a trailing slash ("name/" must be a directory and follows a final
symlink, except in mkdir and rename, which name the link itself), absolute and empty
paths -- as the regression sequences of tests/test_fuzz_ops.py check.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Op = tuple[str, ...]

# wasi_snapshot_preview1 rights.
FD_DATASYNC, FD_READ, FD_SEEK, FD_FDSTAT_SET_FLAGS = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FD_SYNC, FD_TELL, FD_WRITE, FD_ADVISE, FD_ALLOCATE = 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
PATH_CREATE_DIRECTORY, PATH_CREATE_FILE, PATH_LINK_SOURCE = 1 << 9, 1 << 10, 1 << 11
PATH_LINK_TARGET, PATH_OPEN, FD_READDIR, PATH_READLINK = 1 << 12, 1 << 13, 1 << 14, 1 << 15
PATH_RENAME_SOURCE, PATH_RENAME_TARGET, PATH_FILESTAT_GET = 1 << 16, 1 << 17, 1 << 18
PATH_FILESTAT_SET_SIZE, PATH_FILESTAT_SET_TIMES, FD_FILESTAT_GET = 1 << 19, 1 << 20, 1 << 21
FD_FILESTAT_SET_SIZE, FD_FILESTAT_SET_TIMES, PATH_SYMLINK = 1 << 22, 1 << 23, 1 << 24
PATH_REMOVE_DIRECTORY, PATH_UNLINK_FILE, POLL_FD_READWRITE = 1 << 25, 1 << 26, 1 << 27
RIGHTS_ALL = (1 << 29) - 1  # what the driver's callers pass for "everything" (bit 28 too)
RIGHTS_VALID = (1 << 30) - 1  # more is EINVAL
# wasmtime opens a host file for writing when any of these is asked for.
WRITE_RIGHTS = FD_DATASYNC | FD_WRITE | FD_ALLOCATE | FD_FILESTAT_SET_SIZE
READ_RIGHTS = FD_READ | FD_READDIR  # ... and for reading when one of these is
RIGHTS_RO = RIGHTS_ALL & ~WRITE_RIGHTS
RIGHTS_WO = RIGHTS_ALL & ~READ_RIGHTS
# The preopen's rights in wasi.wasm (dev/process/fdops.h): the directory rights in its base,
# everything but SOCK_SHUTDOWN (bit 28) in its inheriting rights.
PREOPEN_BASE = (
    PATH_CREATE_DIRECTORY | PATH_CREATE_FILE | PATH_LINK_SOURCE | PATH_LINK_TARGET | PATH_OPEN
    | FD_READDIR | PATH_READLINK | PATH_RENAME_SOURCE | PATH_RENAME_TARGET | PATH_SYMLINK
    | PATH_REMOVE_DIRECTORY | PATH_UNLINK_FILE | PATH_FILESTAT_GET | PATH_FILESTAT_SET_SIZE
    | PATH_FILESTAT_SET_TIMES | FD_FILESTAT_GET | FD_FILESTAT_SET_TIMES
)  # fmt: skip
PREOPEN_INHERITING = (1 << 28) - 1
INT64_MAX = (1 << 63) - 1
MAX_FILE_SIZE = (1 << 44) - 4096  # the core's largest file, as ext4's

O_CREAT, O_DIRECTORY, O_EXCL, O_TRUNC = 1, 2, 4, 8
FDFLAG_APPEND, FDFLAG_NONBLOCK, FDFLAGS_SYNC = 1, 4, 2 | 8 | 16
FST_ATIM, FST_ATIM_NOW, FST_MTIM, FST_MTIM_NOW = 1, 2, 4, 8
MAX_SYMLINK_EXPANSIONS = 40
EMPTY_SLOT_BASE = 100  # the driver's stand-in fd number for an empty slot


class ModelError(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def fail(name: str) -> ModelError:
    return ModelError(name)


# -- inodes -----------------------------------------------------------------------------------


@dataclass(eq=False)
class Node:
    kind: str  # "file", "dir" or "symlink"
    data: bytearray = field(default_factory=bytearray)  # file content / symlink target
    entries: dict[str, Node] = field(default_factory=dict)  # directories
    nlink: int = 0
    removed: bool = False  # a directory that was rmdir'ed (an fd may still point at it)


@dataclass(eq=False)
class Fd:
    node: Node
    readable: bool  # FD_READ among the rights it was opened with
    writable: bool  # FD_WRITE among them
    append: bool
    rights: int  # rights_base
    inheriting: int = 0  # rights_inheriting
    offset: int = 0

    def need(self, right: int) -> None:
        if self.rights & right != right:
            raise fail("ENOTCAPABLE")


@dataclass
class Walk:
    """Result of resolving a path: the directory holding the final name, the name, the
    node it names (None if absent) and whether the final name had a trailing slash."""

    parent: Node
    name: str
    node: Node | None
    slash: bool = False


# -- the model --------------------------------------------------------------------------------


class Model:
    def __init__(self) -> None:
        self.root = Node("dir")
        self.preopen = Fd(self.root, True, False, False, PREOPEN_BASE, PREOPEN_INHERITING)
        self.slots: list[Fd | None] = [None] * 8

    # -- helpers ----------------------------------------------------------------------------
    def slot_fd(self, token: str) -> Fd:
        fd = self.slots[int(token)]
        if fd is None:
            raise fail("EBADF")
        return fd

    def dir_fd(self, token: str, right: int, not_dir: str = "EBADF") -> Fd:
        """The directory fd a path is resolved against, which must have ``right``;
        ``not_dir`` is the errno for a file fd (wasmtime's path_open says ENOTDIR, every
        other path function EBADF)."""
        fd = self.preopen if token == "." else self.slot_fd(token)
        if fd.node.kind != "dir":
            raise fail(not_dir)
        fd.need(right)
        return fd

    def base(self, token: str, right: int) -> Node:
        return self.dir_fd(token, right).node

    def file_fd(self, token: str, right: int) -> Fd:
        """A slot's fd that must be a file (EBADF) with ``right`` (ENOTCAPABLE)."""
        fd = self.slot_fd(token)
        if fd.node.kind == "dir":
            raise fail("EBADF")
        fd.need(right)
        return fd

    def walk(self, base: Node, path: str, follow: bool = False, link_itself: bool = False) -> Walk:
        """Resolve like cap-std: never above ``base``, absolute targets refused (EPERM).

        A final symlink is followed with ``follow`` or as "link/"; "name/" must then be a
        directory (ENOTDIR). With ``link_itself`` (mkdir, rename) a final symlink is never
        followed, and what a trailing slash means is left to the caller (``Walk.slash``)."""
        if path == "":
            raise fail("ENOENT")
        if path.startswith("/"):
            raise fail("EPERM")
        stack = [base]
        parts = [p for p in path.split("/") if p]
        slash = path.endswith("/")
        expansions = 0
        while True:
            name = parts.pop(0)
            last = not parts
            here = stack[-1]
            if name == ".":
                if last:
                    return Walk(here, ".", here)
                continue
            if name == "..":
                if len(stack) == 1:
                    raise fail("EPERM")
                stack.pop()
                if last:
                    return Walk(stack[-1], "..", stack[-1])
                continue
            node = here.entries.get(name)
            followed = not last or ((follow or slash) and not link_itself)
            if node is not None and node.kind == "symlink" and followed:
                expansions += 1
                if expansions > MAX_SYMLINK_EXPANSIONS:
                    raise fail("ELOOP")
                target = node.data.decode()
                if target.startswith("/"):
                    raise fail("EPERM")
                if not target:
                    raise fail("ENOENT")
                if last:  # the target's final name is now the final one
                    slash = slash or target.endswith("/")
                parts = [p for p in target.split("/") if p] + parts
                if not parts:
                    return Walk(here, ".", here)
                continue
            if last:
                if slash and not link_itself and node is not None and node.kind != "dir":
                    raise fail("ENOTDIR")
                return Walk(here, name, node, slash)
            if node is None:
                raise fail("ENOENT")
            if node.kind != "dir":
                raise fail("ENOTDIR")
            stack.append(node)

    @staticmethod
    def link_into(parent: Node, name: str, node: Node) -> None:
        if parent.removed:
            raise fail("ENOENT")
        parent.entries[name] = node
        node.nlink += 1

    @staticmethod
    def stat_line(node: Node) -> str:
        if node.kind == "dir":
            return "dir"
        return f"{node.kind} size={len(node.data)} nlink={node.nlink}"

    # -- operations -------------------------------------------------------------------------
    def op_open(self, *args: str) -> str:
        s, b, path, oflags_s, rights_s, fdflags_s, lookup_s, *rest = args
        oflags, rights, fdflags = int(oflags_s), int(rights_s), int(fdflags_s)
        inheriting = int(rest[0]) if rest else rights  # the driver's default
        # O_CREAT|O_EXCL never follows a final symlink: the link itself exists (EEXIST).
        exclusive = (oflags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)
        follow = int(lookup_s) & 1 == 1 and not exclusive
        directory = self.dir_fd(b, 0, "ENOTDIR")
        if oflags & ~15 or fdflags & ~31 or (rights | inheriting) & ~RIGHTS_VALID:
            raise fail("EINVAL")
        if oflags & O_DIRECTORY and oflags & (O_CREAT | O_EXCL | O_TRUNC):
            raise fail("EINVAL")
        if fdflags & FDFLAGS_SYNC:
            raise fail("ENOTSUP")
        directory.need(
            PATH_OPEN
            | (PATH_CREATE_FILE if oflags & O_CREAT else 0)
            | (PATH_FILESTAT_SET_SIZE if oflags & O_TRUNC else 0)
        )
        # Exactly the rights asked for, as far as the directory passes them on.
        rights &= directory.inheriting
        inheriting &= directory.inheriting
        read = rights & FD_READ != 0
        write = rights & FD_WRITE != 0
        # O_CREAT on "name/" resolves "name" and is EISDIR whatever it names, except that
        # O_EXCL finds a final "." or ".." existing.
        create_dir_path = bool(oflags & O_CREAT) and len(path) > 1 and path.endswith("/")
        if create_dir_path:
            path = path.rstrip("/") or "/"
        walk = self.walk(directory.node, path, follow)
        if create_dir_path:
            raise fail("EEXIST" if exclusive and walk.name in (".", "..") else "EISDIR")
        node = walk.node
        if node is None:
            if not oflags & O_CREAT:
                raise fail("ENOENT")
            node = Node("file")
            self.link_into(walk.parent, walk.name, node)
        else:
            if oflags & O_CREAT and oflags & O_EXCL:
                raise fail("EEXIST")
            if node.kind == "symlink":  # not followed (O_NOFOLLOW)
                raise fail("ELOOP")
            if oflags & O_DIRECTORY and node.kind != "dir":
                raise fail("ENOTDIR")
            if node.kind == "dir":
                if write or oflags & (O_CREAT | O_TRUNC):
                    raise fail("EISDIR")
            elif oflags & O_TRUNC:
                node.data.clear()
        old = self.slots[int(s)]
        del old  # the driver closes the slot's previous fd
        append = fdflags & FDFLAG_APPEND != 0
        self.slots[int(s)] = Fd(node, read, write, append, rights, inheriting)
        return "OK"

    def op_close(self, s: str) -> str:
        self.slot_fd(s)
        self.slots[int(s)] = None
        return "OK"

    @staticmethod
    def _read_at(fd: Fd, count: int, offset: int) -> bytes:
        if fd.node.kind == "dir" or not fd.readable:
            raise fail("EBADF")
        fd.need(FD_READ)
        if offset + count > INT64_MAX:
            raise fail("EINVAL")
        return bytes(fd.node.data[offset : offset + count])

    def op_read(self, s: str, n: str) -> str:
        fd = self.slot_fd(s)
        data = self._read_at(fd, int(n), fd.offset)
        fd.offset += len(data)
        return "OK " + data.hex()

    def op_pread(self, s: str, n: str, off: str) -> str:
        fd = self.slot_fd(s)
        return "OK " + self._read_at(fd, int(n), int(off)).hex()

    @staticmethod
    def _write_at(fd: Fd, data: bytes, offset: int) -> int:
        if fd.node.kind == "dir" or not fd.writable:  # even with nothing to write
            raise fail("EBADF")
        fd.need(FD_WRITE)
        if offset + len(data) > INT64_MAX:
            raise fail("EINVAL")
        if not data:
            return offset
        content = fd.node.data
        if offset > len(content):
            content.extend(bytes(offset - len(content)))
        content[offset : offset + len(data)] = data
        return offset + len(data)

    def op_write(self, s: str, hexdata: str) -> str:
        fd = self.slot_fd(s)
        data = b"" if hexdata == "=" else bytes.fromhex(hexdata)
        offset = len(fd.node.data) if fd.append else fd.offset
        fd.offset = self._write_at(fd, data, offset)
        return f"OK {len(data)}"

    def op_pwrite(self, s: str, hexdata: str, off: str) -> str:
        fd = self.slot_fd(s)
        data = b"" if hexdata == "=" else bytes.fromhex(hexdata)
        offset = len(fd.node.data) if fd.append and fd.node.kind == "file" else int(off)
        self._write_at(fd, data, offset)
        return f"OK {len(data)}"

    def op_seek(self, s: str, off: str, whence: str) -> str:
        fd = self.file_fd(s, FD_TELL if whence == "1" and int(off) == 0 else FD_SEEK)
        start = {"0": 0, "1": fd.offset, "2": len(fd.node.data)}[whence]
        position = start + int(off)
        if position < 0:
            raise fail("EINVAL")
        fd.offset = position
        return f"OK {position}"

    def op_tell(self, s: str) -> str:
        fd = self.file_fd(s, FD_TELL)
        return f"OK {fd.offset}"

    def op_sync(self, s: str) -> str:
        self.file_fd(s, FD_SYNC)
        return "OK"

    def op_trunc(self, s: str, size_s: str) -> str:
        fd = self.file_fd(s, FD_FILESTAT_SET_SIZE)
        size = int(size_s)
        if not fd.writable or size > INT64_MAX:  # as ftruncate(2)
            raise fail("EINVAL")
        content = fd.node.data
        if size < len(content):
            del content[size:]
        else:
            content.extend(bytes(size - len(content)))
        return "OK"

    def op_alloc(self, s: str, off: str, length: str) -> str:
        """wasi.wasm's fd_allocate: posix_fallocate (extend with zeros, never shrink), with
        fallocate(2)'s errors."""
        fd = self.file_fd(s, FD_ALLOCATE)
        if not fd.writable:
            raise fail("EBADF")
        offset, size = int(off), int(length)
        if offset > INT64_MAX or size == 0 or size > INT64_MAX:
            raise fail("EINVAL")
        end = offset + size
        if end > INT64_MAX or end > MAX_FILE_SIZE:
            raise fail("EFBIG")
        content = fd.node.data
        if end > len(content):
            content.extend(bytes(end - len(content)))
        return "OK"

    def op_fdflags(self, s: str, flags: str) -> str:
        fd = self.file_fd(s, FD_FDSTAT_SET_FLAGS)
        if int(flags) & ~(FDFLAG_APPEND | FDFLAG_NONBLOCK):
            raise fail("EINVAL")
        fd.append = int(flags) & FDFLAG_APPEND != 0
        return "OK"

    def op_fstat(self, s: str) -> str:
        fd = self.slot_fd(s)
        fd.need(FD_FILESTAT_GET)
        return "OK " + self.stat_line(fd.node)

    def op_stat(self, b: str, path: str, follow: str) -> str:
        node = self.walk(self.base(b, PATH_FILESTAT_GET), path, follow == "1").node
        if node is None:
            raise fail("ENOENT")
        return "OK " + self.stat_line(node)

    def op_mkdir(self, b: str, path: str) -> str:
        # Never follows a final symlink, even as "link/"; "file/" exists too (EEXIST).
        walk = self.walk(self.base(b, PATH_CREATE_DIRECTORY), path, link_itself=True)
        if walk.node is not None:
            raise fail("EEXIST")
        self.link_into(walk.parent, walk.name, Node("dir"))
        return "OK"

    def op_rmdir(self, b: str, path: str) -> str:
        walk = self.walk(self.base(b, PATH_REMOVE_DIRECTORY), path)
        node = walk.node
        if node is None:
            raise fail("ENOENT")
        if node.kind != "dir":
            raise fail("ENOTDIR")
        if walk.name in (".", "..") or walk.slash:  # wasmtime removes "d/" as "." in d
            raise fail("EINVAL")
        if node.entries:
            raise fail("ENOTEMPTY")
        del walk.parent.entries[walk.name]
        node.nlink -= 1
        node.removed = True
        return "OK"

    def op_unlink(self, b: str, path: str) -> str:
        walk = self.walk(self.base(b, PATH_UNLINK_FILE), path)
        node = walk.node
        if walk.name in (".", ".."):
            raise fail("EISDIR")
        if node is None:
            raise fail("ENOENT")
        if node.kind == "dir":
            raise fail("EISDIR")
        del walk.parent.entries[walk.name]
        node.nlink -= 1
        return "OK"

    @staticmethod
    def _contains(ancestor: Node, node: Node) -> bool:
        if ancestor is node:
            return True
        return any(
            child.kind == "dir" and Model._contains(child, node)
            for child in ancestor.entries.values()
        )

    def op_rename(self, b: str, path: str, b2: str, path2: str) -> str:
        old_base = self.base(b, PATH_RENAME_SOURCE)
        new_base = self.base(b2, PATH_RENAME_TARGET)
        # Neither final symlink is followed, even as "link/"; both paths resolve before
        # "file/" is refused.
        old = self.walk(old_base, path, link_itself=True)
        new = self.walk(new_base, path2, link_itself=True)
        source, target = old.node, new.node
        if new.slash and target is not None and target.kind != "dir":
            raise fail("ENOTDIR")
        if old.name in (".", "..") or new.name in (".", ".."):
            raise fail("EBUSY")
        if source is None:
            raise fail("ENOENT")
        if source.kind != "dir" and (old.slash or new.slash):
            raise fail("ENOTDIR")
        if new.parent.removed:
            raise fail("ENOENT")
        if target is not None and target is not source and self._contains(target, old.parent):
            raise fail("ENOTEMPTY")  # onto an ancestor of the source, as Linux's rename
        if source.kind == "dir":
            if target is not None and target.kind != "dir":
                raise fail("ENOTDIR")
            if self._contains(source, new.parent):
                raise fail("EINVAL")
            if target is not None and target is not source and target.entries:
                raise fail("ENOTEMPTY")
        elif target is not None and target.kind == "dir":
            raise fail("EISDIR")
        if target is source:
            return "OK"
        if target is not None:
            target.nlink -= 1
            if target.kind == "dir":
                target.removed = True
        del old.parent.entries[old.name]
        new.parent.entries[new.name] = source
        return "OK"

    def op_link(self, b: str, path: str, b2: str, path2: str, follow: str) -> str:
        if follow == "1":
            raise fail("EINVAL")
        old_base = self.base(b, PATH_LINK_SOURCE)
        new_base = self.base(b2, PATH_LINK_TARGET)
        old = self.walk(old_base, path)
        if old.node is None and old.slash:  # "x/" resolves x itself, before the new path
            raise fail("ENOENT")
        new = self.walk(new_base, path2)
        if old.node is None:
            raise fail("ENOENT")
        if new.node is not None:
            raise fail("EEXIST")
        if new.slash:  # a missing "name/", even for a directory
            raise fail("ENOENT")
        if old.node.kind == "dir":
            raise fail("EPERM")
        self.link_into(new.parent, new.name, old.node)
        return "OK"

    def op_symlink(self, target: str, b: str, path: str) -> str:
        base = self.base(b, PATH_SYMLINK)
        if target.startswith("/"):  # it could only ever escape
            raise fail("EPERM")
        walk = self.walk(base, path)  # the link path before the target
        if target == "=":
            raise fail("ENOENT")
        if walk.node is not None:
            raise fail("EEXIST")
        if walk.slash:
            raise fail("ENOENT")
        self.link_into(walk.parent, walk.name, Node("symlink", bytearray(target.encode())))
        return "OK"

    def op_readlink(self, b: str, path: str) -> str:
        node = self.walk(self.base(b, PATH_READLINK), path).node
        if node is None:
            raise fail("ENOENT")
        if node.kind != "symlink":
            raise fail("EINVAL")
        return "OK " + node.data.decode()

    @staticmethod
    def listing(node: Node) -> list[str]:
        names = [f"{name}:{child.kind}" for name, child in node.entries.items()]
        return sorted([".:dir", "..:dir", *names])

    def op_readdir(self, s: str) -> str:
        fd = self.slot_fd(s)
        if fd.node.kind != "dir":
            raise fail("EBADF")
        return " ".join(["OK", *self.listing(fd.node)])

    @staticmethod
    def _check_times(flags: int) -> None:
        both_a = flags & FST_ATIM and flags & FST_ATIM_NOW
        both_m = flags & FST_MTIM and flags & FST_MTIM_NOW
        if both_a or both_m:
            raise fail("EINVAL")

    def op_settimes(self, b: str, path: str, follow: str, _a: str, _m: str, flags: str) -> str:
        self._check_times(int(flags))
        base = self.base(b, PATH_FILESTAT_SET_TIMES)
        final = path.rsplit("/", 1)[-1]
        if int(flags) == 0 and follow == "0" and final not in ("", ".", ".."):
            # Linux's utimensat with both times UTIME_OMIT returns before it looks at the
            # name; wasmtime resolves only the parent directory first.
            parent = path[: len(path) - len(final)]
            if parent and self.walk(base, parent).node is None:  # "dir/": a directory
                raise fail("ENOENT")
            return "OK"
        if self.walk(base, path, follow == "1").node is None:
            raise fail("ENOENT")
        return "OK"

    def op_fsettimes(self, s: str, _a: str, _m: str, flags: str) -> str:
        self._check_times(int(flags))
        self.slot_fd(s).need(FD_FILESTAT_SET_TIMES)
        return "OK"

    def op_renumber(self, s: str, t: str) -> str:
        fd = self.slot_fd(s)
        self.slot_fd(t)
        if s != t:
            self.slots[int(t)] = fd
            self.slots[int(s)] = None
        return "OK"

    # -- the final tree ---------------------------------------------------------------------
    def tree(self) -> list[str]:
        lines: list[str] = []
        self._dump(self.root, "", 0, lines)
        lines.append("tree end")
        return lines

    def _dump(self, directory: Node, prefix: str, depth: int, lines: list[str]) -> None:
        if depth > 8:
            return
        for entry in self.listing(directory):
            name = entry.rsplit(":", 1)[0]
            if name in (".", ".."):
                continue
            node = directory.entries[name]
            full = prefix + name
            line = f"tree {full} {self.stat_line(node)}"
            if node.kind == "symlink":
                lines.append(f"{line} -> {node.data.decode()}")
            elif node.kind == "file":
                lines.append(f"{line} data={_data_summary(bytes(node.data))}")
            else:
                lines.append(line)
                self._dump(node, full + "/", depth + 1, lines)

    # -- dispatch ---------------------------------------------------------------------------
    def step(self, op: Op) -> list[str]:
        if op[0] == "tree":
            return self.tree()
        method = getattr(self, f"op_{op[0]}")
        args = [("" if token == "=" and _is_path_arg(op[0], i) else token)
                for i, token in enumerate(op[1:], start=1)]  # fmt: skip
        try:
            return [method(*args)]
        except ModelError as error:
            return [error.name]


def _is_path_arg(name: str, index: int) -> bool:
    """Which tokens are paths (where "=" means the empty path); a symlink's target stays
    "=" so the model can tell an empty target from an empty link path."""
    return index in PATH_ARGS.get(name, ())


PATH_ARGS: dict[str, tuple[int, ...]] = {
    "open": (3,), "stat": (2,), "mkdir": (2,), "rmdir": (2,), "unlink": (2,),
    "rename": (2, 4), "link": (2, 4), "symlink": (3,), "readlink": (2,), "settimes": (2,),
}  # fmt: skip


def _fnv(data: bytes) -> int:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def _data_summary(data: bytes) -> str:
    if len(data) <= 64:
        return data.hex()
    return f"{data[:64].hex()}... fnv={_fnv(data):016x}"


def render(op: Op) -> str:
    return " ".join(op)


def run_model(ops: Iterable[Op]) -> list[str]:
    """The driver's output lines for ``ops`` according to the model."""
    model = Model()
    lines: list[str] = []
    for op in ops:
        lines.extend(model.step(op))
    return lines


def parse(text: str) -> list[Op]:
    return [tuple(line.split()) for line in text.splitlines() if line.strip()]


def describe(ops: Sequence[Op]) -> str:
    return "\n".join(render(op) for op in ops)
