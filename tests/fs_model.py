"""A small pure-Python reference model of the filesystem semantics that
tests/programs/fuzz_driver.c exercises: what wasmtime's WASI gives on Linux, plus the
wasi.wasm-only operations where wasmtime is not the reference (fd_allocate gives ENOTSUP
there; see ../shared/NOTES.md).

``run_model(ops)`` returns exactly the lines the driver would print for the same
operations. The model covers the path shapes the "model" strategy of tests/test_fuzz_ops.py
generates: relative paths of plain names (intermediate ".." and "." allowed, no trailing or
doubled slashes, no empty paths); the wasmtime comparison covers the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Op = tuple[str, ...]

# wasi_snapshot_preview1 rights and flags used by the driver's callers.
FD_DATASYNC, FD_READ, FD_WRITE, FD_ALLOCATE = 1 << 0, 1 << 1, 1 << 6, 1 << 8
FD_READDIR, FD_FILESTAT_SET_SIZE = 1 << 14, 1 << 22
RIGHTS_ALL = (1 << 29) - 1
# wasmtime opens a host file for writing when any of these is asked for.
WRITE_RIGHTS = FD_DATASYNC | FD_WRITE | FD_ALLOCATE | FD_FILESTAT_SET_SIZE
RIGHTS_RO = RIGHTS_ALL & ~WRITE_RIGHTS
RIGHTS_WO = RIGHTS_ALL & ~(FD_READ | FD_READDIR)

O_CREAT, O_DIRECTORY, O_EXCL, O_TRUNC = 1, 2, 4, 8
FDFLAG_APPEND = 1
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
    readable: bool
    writable: bool
    append: bool
    rights: int
    offset: int = 0


@dataclass
class Walk:
    """Result of resolving a path: the directory holding the final name, the name and the
    node it names (None if absent)."""

    parent: Node
    name: str
    node: Node | None


# -- the model --------------------------------------------------------------------------------


class Model:
    def __init__(self) -> None:
        self.root = Node("dir")
        self.slots: list[Fd | None] = [None] * 8

    # -- helpers ----------------------------------------------------------------------------
    def slot_fd(self, token: str) -> Fd:
        fd = self.slots[int(token)]
        if fd is None:
            raise fail("EBADF")
        return fd

    def base(self, token: str, not_dir: str = "EBADF") -> Node:
        """The directory a path is resolved against; ``not_dir`` is the errno for a file fd
        (wasmtime's path_open says ENOTDIR, every other path function EBADF)."""
        if token == ".":
            return self.root
        fd = self.slot_fd(token)
        if fd.node.kind != "dir":
            raise fail(not_dir)
        return fd.node

    def walk(self, base: Node, path: str, follow: bool) -> Walk:
        """Resolve like cap-std: never above ``base``, absolute targets refused (EPERM)."""
        if path == "":
            raise fail("ENOENT")
        if path.startswith("/"):
            raise fail("EPERM")
        stack = [base]
        parts = [p for p in path.split("/") if p]
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
            if node is not None and node.kind == "symlink" and (follow or not last):
                expansions += 1
                if expansions > MAX_SYMLINK_EXPANSIONS:
                    raise fail("ELOOP")
                target = node.data.decode()
                if target.startswith("/"):
                    raise fail("EPERM")
                if not target:
                    raise fail("ENOENT")
                parts = [p for p in target.split("/") if p] + parts
                if not parts:
                    return Walk(here, ".", here)
                continue
            if last:
                return Walk(here, name, node)
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
        s, b, path, oflags_s, rights_s, fdflags_s, lookup_s = args
        oflags, rights, fdflags = int(oflags_s), int(rights_s), int(fdflags_s)
        follow = int(lookup_s) & 1 == 1
        base = self.base(b, "ENOTDIR")
        write = rights & WRITE_RIGHTS != 0
        read = rights & FD_READ != 0
        if oflags & O_DIRECTORY and oflags & (O_CREAT | O_EXCL | O_TRUNC):
            raise fail("EINVAL")
        walk = self.walk(base, path, follow)
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
        # wasmtime opens the host file for writing when append, creation or truncation is
        # asked for, whatever the rights say.
        writable = write or append or oflags & (O_CREAT | O_TRUNC) != 0
        self.slots[int(s)] = Fd(node, read, writable, append, rights)
        return "OK"

    def op_close(self, s: str) -> str:
        self.slot_fd(s)
        self.slots[int(s)] = None
        return "OK"

    def _read_at(self, fd: Fd, count: int, offset: int) -> bytes:
        if fd.node.kind == "dir" or not fd.readable:
            raise fail("EBADF")
        return bytes(fd.node.data[offset : offset + count])

    def op_read(self, s: str, n: str) -> str:
        fd = self.slot_fd(s)
        data = self._read_at(fd, int(n), fd.offset)
        fd.offset += len(data)
        return "OK " + data.hex()

    def op_pread(self, s: str, n: str, off: str) -> str:
        fd = self.slot_fd(s)
        return "OK " + self._read_at(fd, int(n), int(off)).hex()

    def _write_at(self, fd: Fd, data: bytes, offset: int) -> int:
        if fd.node.kind == "dir":
            raise fail("EBADF")
        if not data:  # nothing to write: not even the access mode is checked
            return 0
        if not fd.writable:
            raise fail("EBADF")
        content = fd.node.data
        if offset > len(content):
            content.extend(bytes(offset - len(content)))
        content[offset : offset + len(data)] = data
        return offset + len(data)

    def op_write(self, s: str, hexdata: str) -> str:
        fd = self.slot_fd(s)
        data = b"" if hexdata == "=" else bytes.fromhex(hexdata)
        if fd.append and fd.writable and fd.node.kind == "file":
            fd.offset = len(fd.node.data)
        end = self._write_at(fd, data, fd.offset)
        if data:
            fd.offset = end
        return f"OK {len(data)}"

    def op_pwrite(self, s: str, hexdata: str, off: str) -> str:
        fd = self.slot_fd(s)
        data = b"" if hexdata == "=" else bytes.fromhex(hexdata)
        offset = len(fd.node.data) if fd.append and fd.node.kind == "file" else int(off)
        self._write_at(fd, data, offset)
        return f"OK {len(data)}"

    def op_seek(self, s: str, off: str, whence: str) -> str:
        fd = self.slot_fd(s)
        if fd.node.kind == "dir":
            raise fail("EBADF")
        start = {"0": 0, "1": fd.offset, "2": len(fd.node.data)}[whence]
        position = start + int(off)
        if position < 0:
            raise fail("EINVAL")
        fd.offset = position
        return f"OK {position}"

    def op_tell(self, s: str) -> str:
        fd = self.slot_fd(s)
        if fd.node.kind == "dir":
            raise fail("EBADF")
        return f"OK {fd.offset}"

    def op_sync(self, s: str) -> str:
        fd = self.slot_fd(s)
        if fd.node.kind == "dir":
            raise fail("EBADF")
        return "OK"

    def op_trunc(self, s: str, size_s: str) -> str:
        fd = self.slot_fd(s)
        if fd.node.kind == "dir":
            raise fail("EBADF")
        if not fd.writable:
            raise fail("EINVAL")
        size = int(size_s)
        content = fd.node.data
        if size < len(content):
            del content[size:]
        else:
            content.extend(bytes(size - len(content)))
        return "OK"

    def op_alloc(self, s: str, off: str, length: str) -> str:
        """wasi.wasm's fd_allocate: posix_fallocate (extend with zeros, never shrink)."""
        fd = self.slot_fd(s)
        if fd.node.kind == "dir":
            raise fail("EBADF")
        if not fd.rights & FD_ALLOCATE:
            raise fail("ENOTCAPABLE")
        if not fd.writable:
            raise fail("EBADF")
        end = int(off) + int(length)
        content = fd.node.data
        if end > len(content):
            content.extend(bytes(end - len(content)))
        return "OK"

    def op_fdflags(self, s: str, flags: str) -> str:
        fd = self.slot_fd(s)
        if fd.node.kind == "dir":
            raise fail("EBADF")
        fd.append = int(flags) & FDFLAG_APPEND != 0
        return "OK"

    def op_fstat(self, s: str) -> str:
        return "OK " + self.stat_line(self.slot_fd(s).node)

    def op_stat(self, b: str, path: str, follow: str) -> str:
        node = self.walk(self.base(b), path, follow == "1").node
        if node is None:
            raise fail("ENOENT")
        return "OK " + self.stat_line(node)

    def op_mkdir(self, b: str, path: str) -> str:
        walk = self.walk(self.base(b), path, False)
        if walk.node is not None:
            raise fail("EEXIST")
        self.link_into(walk.parent, walk.name, Node("dir"))
        return "OK"

    def op_rmdir(self, b: str, path: str) -> str:
        walk = self.walk(self.base(b), path, False)
        node = walk.node
        if walk.name in (".", ".."):
            raise fail("EINVAL")
        if node is None:
            raise fail("ENOENT")
        if node.kind != "dir":
            raise fail("ENOTDIR")
        if node.entries:
            raise fail("ENOTEMPTY")
        del walk.parent.entries[walk.name]
        node.nlink -= 1
        node.removed = True
        return "OK"

    def op_unlink(self, b: str, path: str) -> str:
        walk = self.walk(self.base(b), path, False)
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
        old_base, new_base = self.base(b), self.base(b2)
        old = self.walk(old_base, path, False)
        new = self.walk(new_base, path2, False)
        source, target = old.node, new.node
        if old.name in (".", "..") or new.name in (".", ".."):
            raise fail("EBUSY")
        if source is None:
            raise fail("ENOENT")
        if new.parent.removed:
            raise fail("ENOENT")
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
        old_base, new_base = self.base(b), self.base(b2)
        old = self.walk(old_base, path, False)
        new = self.walk(new_base, path2, False)
        if old.node is None:
            raise fail("ENOENT")
        if new.node is not None:
            raise fail("EEXIST")
        if old.node.kind == "dir":
            raise fail("EPERM")
        self.link_into(new.parent, new.name, old.node)
        return "OK"

    def op_symlink(self, target: str, b: str, path: str) -> str:
        if target == "=":
            raise fail("ENOENT")
        walk = self.walk(self.base(b), path, False)
        if walk.node is not None:
            raise fail("EEXIST")
        self.link_into(walk.parent, walk.name, Node("symlink", bytearray(target.encode())))
        return "OK"

    def op_readlink(self, b: str, path: str) -> str:
        node = self.walk(self.base(b), path, False).node
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
        base = self.base(b)
        final = path.rsplit("/", 1)[-1]
        if int(flags) == 0 and follow == "0" and final not in ("", ".", ".."):
            # Linux's utimensat with both times UTIME_OMIT returns before it looks at the
            # name; wasmtime resolves only the parent directory first.
            parent = path[: len(path) - len(final)]
            if parent:
                directory = self.walk(base, parent, True).node  # "dir/" follows a link
                if directory is None:
                    raise fail("ENOENT")
                if directory.kind != "dir":
                    raise fail("ENOTDIR")
            return "OK"
        node = self.walk(base, path, follow == "1" or path.endswith("/")).node  # "link/"
        if node is None:
            raise fail("ENOENT")
        if path.endswith("/") and node.kind != "dir":
            raise fail("ENOTDIR")
        return "OK"

    def op_fsettimes(self, s: str, _a: str, _m: str, flags: str) -> str:
        self._check_times(int(flags))
        self.slot_fd(s)
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
