"""Property-based fuzzing of the host API's copies against hostile guests (issue 12, item 9).

Each example builds a random host world in a fresh temporary directory, under
``home/user/work/`` (so that a symlink wrongly followed through a few ``..`` still lands
where the snapshots look; ``outside.txt`` sits at every level on the way):

- ``proj/`` (``proj/sub/deep/`` always there, so mounts can nest two levels), ``other/`` and
  a sibling ``victim/`` (``v.txt``, ``deep/d.txt``) that symlinks point at;
- files of random bytes (empty ones, ones ending in 70,000 zeros, sparse ones with a hole of
  4 KiB or of 1 MiB + 17 bytes, past the first chunk of a copy, before their data),
  directories, symlinks (relative, dangling, loops, to themselves, into ``victim/`` and
  ``other/``, out through up to four ``..``; in one world in eight, "hostile", absolute ones
  and targets that are not UTF-8), hard links (also to files in ``victim/``), and names with
  odd but legal bytes (newline, tab, backslash, quotes, control characters, a right-to-left
  mark, 255 bytes, ``.wasi-wasm-`` temporary-like names; in hostile worlds not UTF-8);
- ``proj/to-victim``, a symlink to ``../victim``, which can itself be chosen as a mount.

It picks one to three ``--dir HOST::GUEST`` mounts, two times in three a nested shape in any
order (``proj`` + ``proj/sub/deep``, ``proj`` + ``proj/sub``, ``proj/sub`` + ``proj/sub/deep``,
all three, ``proj`` twice, ``proj`` + ``proj/to-victim``, ``proj`` + ``other``), otherwise any
of those and the random directories of ``proj``; guest names ``/m0``, ``/m1``... or nested in
the VFS too (``/m0/sub``, ``/m0/n1``). It copies them in, lets a guest rearrange the VFS with
one to eight operations (mkdir, rmdir, unlink, write, pwrite past the end, truncate up to
2^44 - 4096 bytes, symlink to ``../victim``, ``../..``, absolute paths and other mounts, hard
link, rename, rmtree, "swap": a directory replaced by a symlink, "dirswap": a symlink replaced
by a directory holding a file), preferring the paths where one mount's host directory lies
inside another's and the symlinks, and copies the trees back out in mount order.

Two drivers:

- ``test_write_back_through_the_cli``: the CLI's own ``--write-back`` code
  (``cli._filesystem``, exactly as ``wasi-wasm run --write-back`` uses it: copy_in_tree per
  --dir, then copy_out_tree(guest, host path, delete=True) per --dir) with the real guest
  ``tests/programs/host_fuzz_guest.c``, so the path is end to end;
- ``test_copy_in_and_out_through_the_api``: ``copy_in_tree`` / ``copy_out_tree`` called
  directly, into directory fds opened before the guest runs (what ``copy_out_tree``'s
  docstring tells a caller with nested trees to do), with a random ``delete`` and
  ``max_file_size``, and as the guest either the real program or the host API standing in
  for it (its ``write_file`` follows symlinks, its ``rename`` / ``link`` work across mounts).

The properties, checked around every single copy-out and over the whole run:

1. nothing outside the copy-out's target changes: every name in the temporary directory
   (type, bytes, symlink target, never following a link) outside the target is as before,
   ``victim/`` included, but for the target's missing ancestors, which it creates;
2. after a copy-out the host tree at its target equals the VFS tree (names, types, bytes,
   symlink targets verbatim; with ``delete=False`` the host may keep extra entries, as they
   were), and no file over ``max_file_size`` was copied; a copy-out that raises has changed
   nothing on the host; copy-in never changes the host, and a copy-in that fails (anything
   but ENOSPC) has changed nothing in the VFS; no copy-out changes the VFS;
3. nothing raises but the documented errors: OSErrors (``FileTooLargeError`` included) that
   name a host path, a VFS path in a mount, or the fd given, and in the CLI one ``UsageError``
   line made from such an error; ``fsck() == 0`` after the guest and after every copy-out.

Found so far: the CLI wrote a nested --dir back by its name, so with ``--dir proj::/a --dir
proj/sub/deep::/c`` a guest that replaced /a/sub by a symlink to ../victim had /c written
into victim/deep (fixed in cli.py: the targets are opened before the run;
test_host_safety.py's test_write_back_of_a_tree_two_levels_down_cannot_reach_outside).

Budget: CI runs CLI_EXAMPLES and API_EXAMPLES examples, about 60 s for the file on two
cores. ``WASI_WASM_HOST_FUZZ_EXAMPLES=N`` runs N examples of each test instead (e.g. 5000
for a long run). Examples are random on every run (no derandomize, no example database): a
failure prints the drawn world, mounts and operations, the equivalent ``--dir ... guest.wasm
OPS`` line, and ``@reproduce_failure`` data to replay it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import hashlib
import os
import posixpath
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Union
from unittest import mock

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from host_tree import DIR_NOFOLLOW, Key, Snapshot, snapshot_fd
from wasi_wasm import Wasi, cli, start_wasi
from wasi_wasm._fs import DEFAULT_MAX_FILE_SIZE

EXAMPLES_ENV = "WASI_WASM_HOST_FUZZ_EXAMPLES"
CLI_EXAMPLES = 200
API_EXAMPLES = 250


def _examples(default: int) -> int:
    value = os.environ.get(EXAMPLES_ENV, "")
    return int(value) if value.strip() else default


FUZZ_SETTINGS = settings(
    deadline=None,
    database=None,
    # no "explain" phase: on this fuzzer it takes minutes for a few comments
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    report_multiple_bugs=False,  # stop at the first failure and shrink that one only
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)

BIG_FILE = 64 << 20  # VFS files above this are compared by size (a guest's 1 TiB file)


# -- the host world ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class File:
    data: bytes
    hole: int = 0  # bytes of hole before the data (the file is sparse)
    zeros: int = 0  # zero bytes written after the data (not a hole)


@dataclasses.dataclass(frozen=True)
class Link:
    target: bytes  # SELF: the link's own name (a loop)


@dataclasses.dataclass(frozen=True)
class HardLink:
    index: int  # to the index-th file made so far (modulo), victim/'s first


@dataclasses.dataclass(frozen=True)
class Dir:
    children: tuple[tuple[bytes, Node], ...] = ()


Node = Union[File, Link, HardLink, Dir]  # noqa: UP007 - evaluated at run time on 3.10

SELF = b"<self>"
ABSOLUTE_VICTIM = b"<absolute victim>"  # the absolute path of victim/, made at build time
ODD_NAMES = [
    b"a", b"b", b"sub", b"deep", b"x.txt", b" spaced out ", b"-dash", b"new\nline",
    b"tab\there", b"back\\slash", b".hidden", b"..dots", b"...", b"*?[]", b"'\"$`;|&",
    "café".encode(), "日本語".encode(), "\u202eevil".encode(), b"\x01\x7f",
    b".wasi-wasm-000000000000", b"n" * 255, b"to-victim",
]  # fmt: skip
NOT_UTF8_NAMES = [b"caf\xe9", b"\xff\xfe"]
LINK_TARGETS = [
    b"a", b"b", b"sub", b"sub/deep", b".", b"..", b"../..", b"../victim", b"../../victim",
    b"../../../victim", b"../../../../victim/v.txt", b"../to-victim", b"../../other",
    b"nowhere/at/all", SELF, b"new\nline", "café".encode(),
]  # fmt: skip
HOSTILE_TARGETS = [ABSOLUTE_VICTIM, b"/", b"caf\xe9"]
HOLES = [0, 0, 0, 4096, (1 << 20) + 17]  # past the first 1 MiB chunk of a copy
ZEROS = [0, 0, 0, 70_000]


@functools.cache
def names(hostile: bool) -> st.SearchStrategy[bytes]:
    text = st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="/\0"),
        min_size=1, max_size=8,
    ).map(lambda name: name.encode()).filter(lambda name: name not in (b".", b".."))  # fmt: skip
    pool = ODD_NAMES + (NOT_UTF8_NAMES if hostile else [])
    return st.one_of(st.sampled_from(pool), text)


@functools.cache
def files() -> st.SearchStrategy[File]:
    return st.builds(File, st.binary(max_size=300), st.sampled_from(HOLES), st.sampled_from(ZEROS))


@functools.cache
def trees(hostile: bool) -> st.SearchStrategy[Dir]:
    targets = LINK_TARGETS + (HOSTILE_TARGETS if hostile else [])
    leaves: st.SearchStrategy[Node] = st.one_of(
        files(), st.builds(Link, st.sampled_from(targets)), st.builds(HardLink, st.integers(0, 9))
    )

    def directories(inner: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        children = st.lists(st.tuples(names(hostile), inner), max_size=4, unique_by=lambda c: c[0])
        return children.map(lambda found: Dir(tuple(found)))

    tree = st.recursive(leaves, directories, max_leaves=8)
    return st.lists(st.tuples(names(hostile), tree), max_size=5, unique_by=lambda c: c[0]).map(
        lambda found: Dir(tuple(found))
    )


@dataclasses.dataclass(frozen=True)
class World:
    proj: Dir
    sub: Dir
    deep: Dir
    other: Dir
    victim: Dir


@st.composite
def worlds(draw: st.DrawFn) -> World:
    hostile = draw(st.integers(0, 7)) == 7  # absolute links and non-UTF-8 names: refused
    return World(*(draw(trees(hostile)) for _ in range(5)))


def _with(tree: Dir, *fixed: tuple[bytes, Node]) -> Dir:
    names = {name for name, _node in fixed}
    return Dir(tuple(fixed) + tuple(c for c in tree.children if c[0] not in names))


# The world lies three levels below the snapshotted base directory, so that a symlink with
# a few ".." that a copy-out wrongly followed still lands where the snapshots look.
WORLD: Key = (b"home", b"user", b"work")


def world_dir(base: Path) -> Path:
    return base.joinpath(*map(os.fsdecode, WORLD))


def build(world: World, base: Path) -> None:
    """The world under ``base``/home/user/work: victim/ first, so that hard links can point
    into it; a file in each directory on the way."""
    made: list[bytes] = []
    victim = _with(world.victim, (b"v.txt", File(b"precious")),
                   (b"deep", Dir(((b"d.txt", File(b"also precious")),))))  # fmt: skip
    deep = world.deep
    sub = _with(world.sub, (b"deep", deep))
    proj = _with(world.proj, (b"sub", sub), (b"to-victim", Link(b"../victim")))
    where = world_dir(base)
    where.mkdir(parents=True)
    for name, tree in ((b"victim", victim), (b"proj", proj), (b"other", world.other)):
        _make(os.fsencode(where), name, tree, where, made)
    for level in (base, base / "home", base / "home" / "user", where):
        (level / "outside.txt").write_bytes(b"outside every tree")


def _make(parent: bytes, name: bytes, node: Node, base: Path, made: list[bytes]) -> None:
    path = os.path.join(parent, name)
    if isinstance(node, Dir):
        os.mkdir(path)
        for child, inner in node.children:
            _make(path, child, inner, base, made)
    elif isinstance(node, Link):
        target = {SELF: name, ABSOLUTE_VICTIM: os.fsencode(base / "victim")}.get(
            node.target, node.target
        )
        os.symlink(target, path)
    elif isinstance(node, HardLink) and made:
        os.link(made[node.index % len(made)], path, follow_symlinks=False)
    else:
        file = node if isinstance(node, File) else File(b"")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.ftruncate(fd, file.hole)
            os.pwrite(fd, file.data + bytes(file.zeros), file.hole)
        finally:
            os.close(fd)
        made.append(path)


# -- snapshots --------------------------------------------------------------------------------


def _digest(size: int, chunks: Iterator[bytes]) -> bytes:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return f"{size} bytes, sha256 {digest.hexdigest()[:16]}".encode()


def _host_chunks(fd: int) -> Iterator[bytes]:
    while chunk := os.read(fd, 1 << 20):
        yield chunk


# Host files are read again for every snapshot: their digests are kept by identity and
# version (a write changes ctime, a new file has a new inode).
_HOST_DIGESTS: dict[tuple[int, int, int, int, int], bytes] = {}


def _host_digest(fd: int, name: bytes, info: os.stat_result) -> bytes:
    version = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    if version not in _HOST_DIGESTS:
        file = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
        try:
            _HOST_DIGESTS[version] = _digest(info.st_size, _host_chunks(file))
        finally:
            os.close(file)
    return _HOST_DIGESTS[version]


def host_snapshot(root_fd: int) -> Snapshot:
    """Every name below the directory ``root_fd`` (which stays open), never following a
    symlink: kind, size and digest of the bytes, or the link's target."""
    return snapshot_fd(root_fd, _host_digest)


def open_lexically(base: Path, key: Key) -> int | None:
    """The directory ``base``/``key`` as its names say, without following a symlink on the
    way; None if that is not a directory."""
    fd = os.open(base, DIR_NOFOLLOW)
    for part in key:
        try:
            child = os.open(part, DIR_NOFOLLOW, dir_fd=fd)
        except OSError:
            child = None
        os.close(fd)
        if child is None:
            return None
        fd = child
    return fd


def snapshot_at(base: Path, key: Key = ()) -> Snapshot | None:
    fd = open_lexically(base, key)
    if fd is None:
        return None
    try:
        return host_snapshot(fd)
    finally:
        os.close(fd)


def vfs_source(fs: Wasi, path: str) -> str:
    """The VFS directory copy_out_tree copies for ``path``: a final symlink is followed, as
    when a program opens the path (the VFS side of a copy-out may follow its own links)."""
    for _ in range(40):
        if not fs.exists(path) or not fs.lstat(path).is_symlink:
            return path
        path = posixpath.normpath(posixpath.join(posixpath.dirname(path), fs.readlink(path)))
    return path


def vfs_snapshot(fs: Wasi, root: str) -> Snapshot | None:
    """The same for a VFS tree (None if ``root`` is not a directory)."""
    if not fs.exists(root) or not fs.lstat(root).is_dir:
        return None
    found: Snapshot = {}
    pending: list[tuple[Key, str]] = [((), root)]
    while pending:
        parts, path = pending.pop()
        for name in fs.listdir(path):
            child = f"{path.rstrip('/')}/{name}"
            key = (*parts, name.encode("utf-8", "surrogateescape"))
            info = fs.lstat(child)
            if info.is_dir:
                found[key] = ("dir", b"")
                pending.append((key, child))
            elif info.is_symlink:
                found[key] = ("link", fs.readlink(child).encode("utf-8", "surrogateescape"))
            elif info.size > BIG_FILE:
                found[key] = ("file", f"{info.size} bytes, not read".encode())
            else:
                found[key] = ("file", _digest(info.size, iter([fs.read_file(child)])))
    return found


def outside(found: Snapshot, targets: Sequence[Key]) -> Snapshot:
    """The entries of a snapshot of the base directory that lie outside every target."""
    return {
        key: entry for key, entry in found.items()
        if not any(key[: len(target)] == target for target in targets)
    }  # fmt: skip


def first_difference(before: Snapshot, after: Snapshot) -> str:
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            return f"{b'/'.join(key)!r}: {before.get(key)} -> {after.get(key)}"
    return "none"


# -- mounts -----------------------------------------------------------------------------------
PROJ, OTHER = (*WORLD, b"proj"), (*WORLD, b"other")
SUB, DEEP, TO_VICTIM = (*PROJ, b"sub"), (*PROJ, b"sub", b"deep"), (*PROJ, b"to-victim")
FIXED_MOUNTS: list[Key] = [PROJ, SUB, DEEP, PROJ, SUB, DEEP, OTHER, TO_VICTIM]


@dataclasses.dataclass(frozen=True)
class Mount:
    host: Key  # below the base directory
    guest: str  # the guest name, also its VFS path

    def host_path(self, base: Path) -> Path:
        return base.joinpath(*map(os.fsdecode, self.host))


def real_dirs(base: Path, top: Key) -> list[Key]:
    """The directories below ``top``, symlinks not followed."""
    found = snapshot_at(base, top) or {}
    return [top + key for key, entry in sorted(found.items()) if entry[0] == "dir"]


NESTED_SHAPES: list[list[Key]] = [
    [PROJ, DEEP], [PROJ, SUB], [SUB, DEEP], [PROJ, SUB, DEEP], [PROJ, TO_VICTIM], [PROJ, OTHER],
    [PROJ, PROJ],
]  # fmt: skip


def draw_mounts(data: st.DataObject, base: Path) -> list[Mount]:
    """One to three mounts, two times in three one of the nested shapes in any order."""
    pool = FIXED_MOUNTS + real_dirs(base, PROJ)[:12]
    shapes = st.sampled_from(NESTED_SHAPES).flatmap(st.permutations)
    hosts = data.draw(
        st.one_of(shapes, shapes, st.lists(st.sampled_from(pool), min_size=1, max_size=3)),
        label="mount hosts",
    )
    mounts = []
    for index, host in enumerate(hosts):
        choices = [f"/m{index}"] + (["/m0/sub", f"/m0/n{index}"] if index else [])
        mounts.append(Mount(host, data.draw(st.sampled_from(choices), label=f"guest {index}")))
    return mounts


def inside(inner: Key, outer: Key) -> bool:
    return len(inner) > len(outer) and inner[: len(outer)] == outer


def crossing_paths(mounts: Sequence[Mount]) -> list[str]:
    """Guest paths that name another mount's host directory or one of its ancestors: where a
    guest that swaps in a symlink could send a later copy-out."""
    found = []
    for outer in mounts:
        for inner in mounts:
            if inside(inner.host, outer.host):
                rest = inner.host[len(outer.host) :]
                for end in range(1, len(rest) + 1):
                    parts = [os.fsdecode(part) for part in rest[:end]]
                    found.append("/".join([outer.guest, *parts]))
    return sorted(set(found))


# -- guest operations -------------------------------------------------------------------------
ESCAPING_TARGETS = ["../victim", "../../victim", "../..", "../../..", "../to-victim", "../other"]
GUEST_TARGETS = [
    "../victim", "../../victim", "../../../victim", "../../../../victim", "../to-victim",
    "..", "../..", ".", "sub", "../m1", "../m1/x", "nowhere", "", "/abs/path", "/m1",
]  # fmt: skip
SIZES = [0, 3, 70_000, (1 << 20) + 5, 3 << 20, (1 << 32) + 1, 1 << 40, (1 << 44) - 4096]
OFFSETS = [0, 1, 4096, 65_536, (1 << 20) + 3, 2 << 20]
NEW_NAMES = ["new", "x", "sub", "deep", "café", ".wasi-wasm-000000000000", "to-victim"]

Op = tuple[str, ...]


def guest_paths(
    fs: Wasi, mounts: Sequence[Mount], limit: int = 30
) -> tuple[list[str], list[str], list[str]]:
    """(paths that exist in the mounts, the directories and the symlinks among them), at
    most ``limit`` each."""
    existing: list[str] = []
    dirs: list[str] = []
    links: list[str] = []
    for mount in mounts:
        found = vfs_snapshot(fs, mount.guest)
        if found is None:
            continue
        dirs.append(mount.guest)
        for key, entry in sorted(found.items()):
            path = "/".join([mount.guest, *(part.decode() for part in key)])
            existing.append(path)
            if entry[0] == "dir":
                dirs.append(path)
            elif entry[0] == "link":
                links.append(path)
    return existing[:limit], dirs[:limit], links[:limit]


def operations(fs: Wasi, mounts: Sequence[Mount], base: Path) -> st.SearchStrategy[list[Op]]:
    existing, dirs, links = guest_paths(fs, mounts)
    crossing = crossing_paths(mounts)
    escapes = ["/m0/../m1/x", "/m0/..", "/m0/to-victim/v.txt", "/m1/../../outside.txt"]
    fresh = st.builds("{}/{}".format, st.sampled_from(dirs or ["/m0"]), st.sampled_from(NEW_NAMES))
    choices = [fresh, st.sampled_from(escapes)]
    if existing:
        choices.insert(0, st.sampled_from(existing))
    if crossing:
        choices.insert(0, st.sampled_from(crossing))
    path = st.one_of(choices)
    text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"),
                   max_size=20)  # fmt: skip
    target = st.one_of(st.sampled_from(GUEST_TARGETS), st.just(str(world_dir(base) / "victim")))
    size = st.sampled_from(SIZES).map(str)
    offset = st.sampled_from(OFFSETS).map(str)
    # The attack of issue 12: a directory that is (or leads to) another mount's host directory
    # replaced by a symlink out of the tree; a quarter of the operations when mounts nest.
    attack = st.tuples(
        st.just("swap"), st.sampled_from(crossing or dirs or ["/m0"]),
        st.sampled_from(ESCAPING_TARGETS),
    )  # fmt: skip
    # The reverse: a symlink (on the host too, after the copy-in) replaced by a directory.
    planting = st.tuples(st.just("dirswap"), st.sampled_from(links) if links else path)
    one = st.one_of(
        attack, attack, attack, attack if crossing else planting, planting, planting,
        st.tuples(st.just("dirswap"), path),
        st.tuples(st.just("swap"), path, target),
        st.tuples(st.just("rmtree"), path),
        st.tuples(st.just("write"), path, text),
        st.tuples(st.just("symlink"), target, path),
        st.tuples(st.just("mkdir"), path),
        st.tuples(st.just("rename"), path, path),
        st.tuples(st.just("truncate"), path, size),
        st.tuples(st.just("pwrite"), path, offset, text),
        st.tuples(st.just("link"), path, path),
        st.tuples(st.just("unlink"), path),
        st.tuples(st.just("rmdir"), path),
    )  # fmt: skip
    return st.lists(one, min_size=1, max_size=8)


def guest_args(ops: Sequence[Op]) -> list[str]:
    return [word for op in ops for word in op]


def run_guest(fs: Wasi, guest: Path, ops: Sequence[Op], preopens: dict[str, str]) -> None:
    result = fs.run(guest, guest_args(ops), preopens=preopens)
    note(f"guest output:\n{result.stdout.decode(errors='replace')}")
    assert result.exit_code == 0, result.stdout


def run_host_api(fs: Wasi, ops: Sequence[Op]) -> None:
    """The operations through the host API, which stands in for a guest: each may fail with
    an OSError (like the guest's errno), nothing else."""
    for op in ops:
        with contextlib.suppress(OSError):
            _host_api_op(fs, *op)


def _host_api_op(fs: Wasi, name: str, *args: str) -> None:
    if name in ("rmtree", "swap", "dirswap"):
        if fs.lstat(args[0]).is_dir:
            fs.rmtree(args[0])
        else:
            fs.remove(args[0])
        if name == "swap":
            fs.symlink(args[1], args[0])
        elif name == "dirswap":
            fs.mkdir(args[0])
            fs.write_file(args[0] + "/planted.txt", b"planted")
    elif name == "write":
        fs.write_file(args[0], args[1].encode())
    elif name == "pwrite":
        fs.write_file(args[0], bytes(int(args[1])) + args[2].encode())
    elif name == "truncate":
        if int(args[1]) <= 4 << 20:  # no host-API truncate: a file of zeros instead
            fs.write_file(args[0], bytes(int(args[1])))
    else:
        calls: dict[str, Callable[..., None]] = {
            "symlink": fs.symlink, "mkdir": fs.mkdir, "rename": fs.rename, "link": fs.link,
            "unlink": fs.remove, "rmdir": fs.rmdir,
        }  # fmt: skip
        calls[name](*args)


# -- the checks -------------------------------------------------------------------------------
def assert_documented(error: BaseException, base: Path, guests: Sequence[str]) -> None:
    """Property 3: an OSError naming a host path below ``base``, a VFS path in a mount, or
    the fd a copy-out was given."""
    assert isinstance(error, OSError), f"undocumented {type(error).__name__}: {error!r}"
    assert error.errno is not None, f"no errno: {error!r}"
    assert error.filename is not None, f"no path named: {error!r}"
    named = os.fsdecode(error.filename)
    host = named.startswith(str(base) + os.sep) or named.startswith("<fd ")
    vfs = any(named == guest or named.startswith(guest + "/") for guest in guests)
    assert host or vfs, f"names neither a host nor a VFS path: {error!r}, {error.filename!r}"


@dataclasses.dataclass(frozen=True)
class Step:
    """One copy-out: what copy_out_tree was given, and how to name it."""

    name: str
    fs: Wasi
    vfs_dir: str
    host_dir: str | os.PathLike[str] | int
    key: Key | None  # the target below the base directory (None: an fd of another)
    delete: bool
    max_file_size: int
    # A write-back of a lazy mount: host entries the mount never showed stay where they are.
    keeps_unshown: bool = False
    # A write-back's nested mounts (their roots below vfs_dir, as keys): each is that mount's
    # to write back, so the host below them stays as it was.
    nested: tuple[Key, ...] = ()
    # A write-back of a mount whose host tree overlaps another's: an earlier write-back may
    # have changed what this mount listed, and a write-back applies only the changes its
    # programs made, so each host entry is either the VFS's or as it was before.
    overlapping: bool = False


@dataclasses.dataclass
class CopyOutChecker:
    """Wraps every copy-out with the per-step checks of properties 1 to 3."""

    base: Path
    guests: Sequence[str]
    # The directories a copy-out may be given as an fd, by identity (device, inode).
    fd_keys: dict[tuple[int, int], Key] = dataclasses.field(default_factory=dict)
    steps: list[str] = dataclasses.field(default_factory=list)

    def key_of(self, path: Path) -> Key:
        return tuple(os.fsencode(part) for part in path.relative_to(self.base).parts)

    def target_key(self, host_dir: str | os.PathLike[str] | int) -> Key | None:
        if isinstance(host_dir, int):
            info = os.fstat(host_dir)
            return self.fd_keys.get((info.st_dev, info.st_ino))
        return self.key_of(Path(os.path.abspath(os.fspath(host_dir))))

    def target_snapshot(self, host_dir: str | os.PathLike[str] | int) -> Snapshot | None:
        if isinstance(host_dir, int):
            return host_snapshot(host_dir)
        key = self.target_key(host_dir)
        assert key is not None
        return snapshot_at(self.base, key)

    def check(
        self, fs: Wasi, vfs_dir: str, host_dir: str | os.PathLike[str] | int, *,
        key: Key | None, delete: bool, max_file_size: int, copy: Callable[[], None],
        keeps_unshown: bool = False, nested: tuple[Key, ...] = (), overlapping: bool = False,
    ) -> None:  # fmt: skip
        step = f"copy_out_tree({vfs_dir!r}, {host_dir!r}, delete={delete})"
        before = snapshot_at(self.base)
        assert before is not None
        target_before = self.target_snapshot(host_dir)
        vfs_before = vfs_snapshot(fs, "/")
        try:
            copy()
        except Exception as error:
            self.steps.append(f"{step}: {type(error).__name__}: {error}")
            assert_documented(error, self.base, self.guests)
            after = snapshot_at(self.base) or {}
            assert after == before, f"{step} failed and changed the host: " + first_difference(
                before, after
            )
            raise
        finally:
            assert fs.fsck() == 0, step
            assert vfs_snapshot(fs, "/") == vfs_before, f"{step} changed the VFS"
        self.steps.append(f"{step}: ok")
        copied = Step(
            step, fs, vfs_dir, host_dir, key, delete, max_file_size, keeps_unshown, nested,
            overlapping,
        )  # fmt: skip
        self.check_result(copied, before, target_before)

    def check_result(self, copy: Step, before: Snapshot, target_before: Snapshot | None) -> None:
        """Properties 1 and 2 after a copy-out that succeeded."""
        step, key, delete = copy.name, copy.key, copy.delete
        after = snapshot_at(self.base)
        assert after is not None
        targets = [key] if key is not None else []
        # The target is created if missing, with its missing ancestors (mkdir -p).
        made = {
            key[:end] for end in range(1, len(key or ()))
            if key and key[:end] not in before and after.get(key[:end]) == ("dir", b"")
        }  # fmt: skip
        left = {name: entry for name, entry in outside(after, targets).items() if name not in made}
        assert left == outside(before, targets), (
            f"{step} changed the host outside its target: "
            + first_difference(outside(before, targets), left)
        )
        copied = self.target_snapshot(copy.host_dir)
        tree = vfs_snapshot(copy.fs, vfs_source(copy.fs, copy.vfs_dir))
        assert tree is not None and copied is not None, step
        for name, (kind, content) in tree.items():
            if under(name, copy.nested):
                continue  # another mount's, which that mount writes back
            size = int(content.split()[0]) if kind == "file" else 0
            assert size <= copy.max_file_size, f"{step} copied {name!r} of {size} bytes"
        if copy.keeps_unshown:
            check_write_back(copy, target_before or {}, tree, copied)
        elif delete:
            assert copied == tree, f"{step}: host differs from VFS: " + first_difference(
                tree, copied
            )
        else:
            for name, entry in tree.items():
                assert copied.get(name) == entry, f"{step}: {name!r} differs from the VFS"
            for name, entry in copied.items():
                if name not in tree:
                    old = (target_before or {}).get(name)
                    assert old == entry, f"{step}: extra host entry {name!r} is not as it was"


def shown_by_a_mount(key: Key, entry: tuple[str, bytes]) -> bool:
    """Whether a lazy mount lists this host entry (the model of _lazy_host.shown_entry): a
    UTF-8 name of at most 255 bytes, and for a symlink a target that is not empty, is UTF-8,
    has no NUL and at most 4095 bytes."""

    def utf8(data: bytes) -> bool:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    name = key[-1]
    if not utf8(name) or len(name) > 255:
        return False
    kind, content = entry
    return kind != "link" or (0 < len(content) <= 4095 and b"\0" not in content and utf8(content))


def under(key: Key, roots: Sequence[Key]) -> bool:
    return any(key[: len(root)] == root for root in roots)


def check_write_back(copy: Step, before: Snapshot, tree: Snapshot, copied: Snapshot) -> None:
    """Property 2 for a write-back: the host tree is the VFS tree, but for what the mount
    never showed (unshown_kept) and what belongs to a nested mount (as it was); where host
    trees overlap, each entry is either the VFS's or as it was before this write-back."""
    tree = {key: entry for key, entry in tree.items() if not under(key, copy.nested)}
    if copy.overlapping:
        for key in sorted(set(before) | set(tree) | set(copied)):
            allowed = (
                [before.get(key)] if under(key, copy.nested) else [tree.get(key), before.get(key)]
            )
            assert copied.get(key) in allowed, (
                f"{copy.name}: {b'/'.join(key)!r} is {copied.get(key)}, neither the VFS's "
                f"nor as it was: {allowed}"
            )
        return
    expected = unshown_kept(before, tree)
    expected.update(tree)
    expected.update((key, entry) for key, entry in before.items() if under(key, copy.nested))
    assert copied == expected, f"{copy.name}: host differs from VFS: " + first_difference(
        expected, copied
    )


def unshown_kept(before: Snapshot, tree: Snapshot) -> Snapshot:
    """What a write-back leaves of the host entries the mount never showed: each such entry
    with everything below it stays, unless the program replaced a directory above it by a
    file or a symlink (that directory goes whole); where the program removed a directory
    above it, the directories on the way stay too, holding only it."""
    kept: Snapshot = {}
    for key, entry in before.items():
        hidden = next((end for end in range(1, len(key) + 1)
                       if not shown_by_a_mount(key[:end], before[key[:end]])), None)  # fmt: skip
        if hidden is None:
            continue
        holders = [key[:end] for end in range(1, hidden)]
        if any(tree.get(holder, ("dir", b"")) != ("dir", b"") for holder in holders):
            continue  # a directory on the way replaced by a file or a symlink
        kept[key] = entry
        kept.update((holder, ("dir", b"")) for holder in holders)
    return kept


# -- the tests --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def guest(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("host_fuzz_guest")


@contextlib.contextmanager
def fresh_base(factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = factory.mktemp("world", numbered=True)
    _HOST_DIGESTS.clear()
    yield base
    shutil.rmtree(base)  # kept for a look when the example failed


@settings(FUZZ_SETTINGS, max_examples=_examples(CLI_EXAMPLES))
@given(data=st.data())
def test_write_back_through_the_cli(
    guest: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """``wasi-wasm run --write-back --dir ...``'s own code path with the real guest."""
    with fresh_base(tmp_path_factory) as base:
        build(data.draw(worlds(), label="world"), base)
        mounts = draw_mounts(data, base)
        dirs = [(str(mount.host_path(base)), mount.guest) for mount in mounts]
        command = f"--dir {' --dir '.join(f'{host}::{name}' for host, name in dirs)}"
        note(command)
        guests = [mount.guest for mount in mounts]
        checker = CopyOutChecker(base, guests)
        # The CLI opens each target before the run, following a symlink as the copy-in does
        # (--dir proj/to-victim writes victim back): its target is where the name led then.
        for host, _guest in dirs:
            info = os.stat(host)
            real = checker.key_of(Path(os.path.realpath(host)))
            checker.fd_keys[info.st_dev, info.st_ino] = real
        reals = [checker.key_of(Path(os.path.realpath(host))) for host, _guest in dirs]
        overlapping = any(
            i != j and b[: len(a)] == a for i, a in enumerate(reals) for j, b in enumerate(reals)
        )
        # The CLI mounts the --dir trees lazily and writes them back with
        # write_back_host_dir: checked as a copy_out_tree(..., delete=True) would be.
        original = Wasi.write_back_host_dir

        def checked(
            fs: Wasi, vfs_dir: str, host_dir: str | os.PathLike[str] | int | None = None,
        ) -> None:  # fmt: skip
            assert host_dir is not None

            def copy() -> None:
                original(fs, vfs_dir, host_dir)

            key = checker.target_key(host_dir)
            assert key is not None, f"write-back into {host_dir!r}: not a --dir target"
            nested = tuple(
                tuple(part.encode() for part in other[len(vfs_dir) + 1 :].split("/"))
                for other in guests if other.startswith(vfs_dir + "/")
            )  # fmt: skip
            checker.check(
                fs, vfs_dir, host_dir, key=key, delete=True,
                max_file_size=DEFAULT_MAX_FILE_SIZE, copy=copy, keeps_unshown=True,
                nested=nested, overlapping=overlapping,
            )  # fmt: skip

        mounted = [(host, name, False) for host, name in dirs]
        before = snapshot_at(base)
        assert before is not None
        try:
            with (
                mock.patch.object(Wasi, "write_back_host_dir", checked),
                cli._filesystem(mounted, write_back=True) as (fs, preopens),
            ):
                assert snapshot_at(base) == before, "copy-in changed the host"
                ops = data.draw(operations(fs, mounts, base), label="guest operations")
                note(f"{command} guest.wasm {' '.join(map(repr, guest_args(ops)))}")
                run_guest(fs, guest, ops, preopens)
                assert fs.fsck() == 0
        except cli.UsageError as error:
            check_usage_error(error, base, guests, before)
        note("\n".join(checker.steps))
        after = snapshot_at(base)
        assert after is not None
        targets = [mount.host for mount in mounts] + list(checker.fd_keys.values())
        assert outside(after, targets) == outside(before, targets), (
            "the host changed outside the --dir trees: "
            + first_difference(outside(before, targets), outside(after, targets))
        )


def check_usage_error(
    error: cli.UsageError, base: Path, guests: Sequence[str], before: Snapshot
) -> None:
    """Property 3 for the CLI: one line, made from a documented OSError, or the refusal of a
    target that an earlier write-back removed."""
    message = str(error)
    if message.startswith("--write-back: ") and " is gone: " in message:
        assert "\n" not in message, message
        return
    cause = error.__context__
    assert_documented(cause or error, base, guests)
    assert isinstance(cause, OSError)
    assert message.startswith(("--dir: cannot mount ", "--write-back: cannot write ")), message
    # One line, but for the names in it: cli.py prints a host or VFS name as it is, so a
    # name with a newline (a legal name, generated here) breaks the line.
    named = os.fsdecode(cause.filename) if cause.filename is not None else ""
    below = named[named.index(">") + 1 :] if named.startswith("<fd ") else named  # "<fd 5>/x"
    assert "\n" not in message.replace(below, ""), message
    if message.startswith("--dir"):
        assert snapshot_at(base) == before, "a failed mount changed the host"


@settings(FUZZ_SETTINGS, max_examples=_examples(API_EXAMPLES))
@given(data=st.data())
def test_copy_in_and_out_through_the_api(
    guest: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """copy_in_tree / copy_out_tree into directory fds opened before the guest ran, with the
    real guest or the host API as the guest."""
    with fresh_base(tmp_path_factory) as base:
        build(data.draw(worlds(), label="world"), base)
        mounts = draw_mounts(data, base)
        real_guest = data.draw(st.booleans(), label="real guest")
        delete = data.draw(st.booleans(), label="delete")
        max_file_size = data.draw(
            st.sampled_from([DEFAULT_MAX_FILE_SIZE, 1 << 20, 100, 0]), label="max_file_size"
        )
        guests = [mount.guest for mount in mounts]
        before = snapshot_at(base)
        assert before is not None
        checker = CopyOutChecker(base, guests)
        targets: list[tuple[Mount, int | Path]] = []
        with start_wasi(preopens={}) as fs, contextlib.ExitStack() as fds:
            for mount in mounts:
                vfs_before = vfs_snapshot(fs, "/")
                try:
                    fs.copy_in_tree(mount.host_path(base), mount.guest)
                except OSError as error:  # naming the host path, or the VFS one (EEXIST)
                    assert_documented(error, base, guests)
                    if error.errno != errno.ENOSPC:
                        assert vfs_snapshot(fs, "/") == vfs_before, "copy-in failed half-way"
                    continue
                # The documented way for nested trees: the targets opened before the run.
                fd = open_lexically(base, mount.host)
                if fd is None:  # a symlink: copy_out_tree must refuse the path
                    targets.append((mount, mount.host_path(base)))
                else:
                    fds.callback(os.close, fd)
                    targets.append((mount, fd))
            assert snapshot_at(base) == before, "copy-in changed the host"
            assert fs.fsck() == 0
            ops = data.draw(operations(fs, mounts, base), label="operations")
            if real_guest:
                run_guest(fs, guest, ops, {mount.guest: mount.guest for mount, _ in targets})
            else:
                run_host_api(fs, ops)
            assert fs.fsck() == 0
            for mount, target in targets:
                key = mount.host

                def copy(target: int | Path = target, vfs_dir: str = mount.guest) -> None:
                    fs.copy_out_tree(vfs_dir, target, delete=delete, max_file_size=max_file_size)

                with contextlib.suppress(OSError):
                    checker.check(
                        fs, mount.guest, target, key=key, delete=delete,
                        max_file_size=max_file_size, copy=copy,
                    )  # fmt: skip
            note("\n".join(checker.steps))
        after = snapshot_at(base)
        assert after is not None
        keys = [mount.host for mount, _target in targets]
        assert outside(after, keys) == outside(before, keys), (
            "the host changed outside the targets: "
            + first_difference(outside(before, keys), outside(after, keys))
        )
