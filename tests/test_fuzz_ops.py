"""Property-based fuzzing of filesystem operations (issue 6, item 5).

Random sequences of operations (open with random flags and rights, read, write, pread,
pwrite, seek, tell, truncate, allocate, mkdir, rmdir, rename, link, symlink, readlink,
unlink, readdir, set_times, close, renumber, ...) run in tests/programs/fuzz_driver.c, which
prints one result line per step and the final tree. Each sequence runs once under wasi.wasm
(a new process on one shared VFS, fsck after every sequence) and is compared step by step
with wasmtime-py's own WASI on a temp directory, or -- for fd_allocate, which wasmtime does
not implement, and for rights, which wasmtime ignores -- with the pure-Python model of
tests/fs_model.py. The model is itself checked against wasmtime.

Rights are a known, intended difference: wasi.wasm gives an fd exactly the rights asked for,
masked by the directory's inheriting rights, and lets it read / write only with FD_READ /
FD_WRITE; wasmtime 50 looks at the rights only to choose the access mode (O_CREAT and O_TRUNC
open for writing whatever was asked). So sequences compared with wasmtime are first rewritten
by ``with_wasmtime_rights`` into ones whose rights mean the same to both, and the one errno
that still differs (set_size on a read-only fd: wasmtime EINVAL, wasi.wasm ENOTCAPABLE, the
fd lacking FD_FILESTAT_SET_SIZE) is accepted.

The settings are derandomized: CI runs the same few thousand sequences every time.
``python tools/fuzz.py --sequences N`` runs as many fresh ones as wanted.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wasi_wasm
from fs_model import (
    FD_READ,
    FD_SEEK,
    FD_WRITE,
    O_CREAT,
    O_DIRECTORY,
    O_TRUNC,
    READ_RIGHTS,
    RIGHTS_ALL,
    RIGHTS_RO,
    RIGHTS_WO,
    WRITE_RIGHTS,
    Op,
    describe,
    parse,
    render,
    run_model,
)

SLOTS = 4  # of the driver's 8: fewer slots make fds meet each other more often
NAMES = ("a", "b", "c")
SANDBOX = "/sandbox"

# -- strategies ----------------------------------------------------------------------------


def _paths(odd: bool) -> st.SearchStrategy[str]:
    """Paths over a three-name alphabet, half of them a single name (so that what was
    created is met again); ``odd`` adds ".", "..", trailing and doubled slashes, absolute
    and empty paths (what wasmtime answers, the model does not know)."""
    component = st.sampled_from(NAMES * 4 + (".", ".."))
    several = st.lists(component, min_size=1, max_size=3).map("/".join)
    plain = st.one_of(st.sampled_from(NAMES), several)
    if not odd:
        return plain
    decorated = st.tuples(plain, st.sampled_from(("", "", "", "/", "//"))).map("".join)
    return st.one_of(
        decorated,
        decorated,
        decorated,
        st.just("="),
        plain.map(lambda p: "/" + p),
        plain.map(lambda p: p.replace("/", "//", 1)),
    )


def _slot() -> st.SearchStrategy[str]:
    return st.sampled_from(("0", "1", *map(str, range(SLOTS))))  # 0 and 1 more often


def _base() -> st.SearchStrategy[str]:
    return st.one_of(st.just("."), st.just("."), st.just("."), _slot())


def _data() -> st.SearchStrategy[str]:
    return st.binary(min_size=0, max_size=12).map(lambda b: b.hex() or "=")


def _offset() -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 40), st.just(70000))


def _flag() -> st.SearchStrategy[str]:
    return st.sampled_from(("0", "1"))


# Rights asked for by path_open: mostly everything (so reads and writes happen), read-only and
# write-only (what wasmtime knows too), and a few sets only the model and wasi.wasm tell apart
# (with_wasmtime_rights maps them to one of the first three).
FEW_RIGHTS = FD_READ | FD_WRITE | FD_SEEK  # no FD_TELL, FD_FILESTAT_GET, PATH_OPEN, ...
OPEN_RIGHTS = (RIGHTS_ALL, RIGHTS_ALL, RIGHTS_ALL, RIGHTS_RO, RIGHTS_RO, RIGHTS_WO, FEW_RIGHTS, 0)
# Inheriting rights: what a directory opened into a slot passes on. Mostly everything;
# None leaves the token out (the driver then uses the rights asked for).
OPEN_INHERITING = (RIGHTS_ALL, RIGHTS_ALL, RIGHTS_ALL, RIGHTS_ALL, None, RIGHTS_RO, RIGHTS_WO, 0)
# O_CREAT, O_CREAT|O_TRUNC, plain opens and O_DIRECTORY more often than the other combinations.
OPEN_OFLAGS = (0, 0, 1, 1, 1, 1, 9, 8, 2, 2, 5, *range(16))


def _open(
    path: st.SearchStrategy[str], oflags: st.SearchStrategy[int], rights: st.SearchStrategy[int]
) -> st.SearchStrategy[Op]:
    def op(parts: tuple[str, str, str, int, int, str, str, int | None]) -> Op:
        *head, inheriting = parts
        tokens = tuple(str(part) for part in head)
        return ("open", *tokens) if inheriting is None else ("open", *tokens, str(inheriting))

    return st.tuples(
        _slot(), _base(), path, oflags, rights, st.sampled_from(("0", "0", "0", "1")), _flag(),
        st.sampled_from(OPEN_INHERITING),
    ).map(op)  # fmt: skip


def op_strategy(*, odd_paths: bool, allocate: bool) -> st.SearchStrategy[Op]:
    path = _paths(odd_paths)
    slot, base, flag = _slot(), _base(), _flag()
    times = st.integers(0, 3).map(lambda k: str(k * 1_000_000_000))
    rights = st.sampled_from(OPEN_RIGHTS)
    choices: list[st.SearchStrategy[Op]] = [
        _open(path, st.sampled_from(OPEN_OFLAGS), rights),
        _open(path, st.sampled_from(OPEN_OFLAGS), rights),
        _open(path, st.just(O_CREAT), st.just(RIGHTS_ALL)),
        st.tuples(st.just("close"), slot),
        st.tuples(st.just("read"), slot, st.integers(0, 20).map(str)),
        st.tuples(st.just("pread"), slot, st.integers(0, 20).map(str), _offset().map(str)),
        st.tuples(st.just("write"), slot, _data()),
        st.tuples(st.just("write"), slot, _data()),
        st.tuples(st.just("pwrite"), slot, _data(), _offset().map(str)),
        st.tuples(st.just("seek"), slot, st.integers(-10, 40).map(str),
                  st.sampled_from(("0", "1", "2"))),
        st.tuples(st.just("tell"), slot),
        st.tuples(st.just("trunc"), slot, _offset().map(str)),
        st.tuples(st.just("fdflags"), slot, st.sampled_from(("0", "1"))),
        st.tuples(st.just("fstat"), slot),
        st.tuples(st.just("stat"), base, path, flag),
        st.tuples(st.just("mkdir"), base, path),
        st.tuples(st.just("mkdir"), base, path),
        st.tuples(st.just("rmdir"), base, path),
        st.tuples(st.just("unlink"), base, path),
        st.tuples(st.just("rename"), base, path, base, path),
        st.tuples(st.just("link"), base, path, base, path, st.just("0")),
        st.tuples(st.just("symlink"), path, base, path),
        st.tuples(st.just("readlink"), base, path),
        st.tuples(st.just("readdir"), slot),
        st.tuples(st.just("settimes"), base, path, flag, times, times,
                  st.sampled_from(("0", "1", "4", "5", "2", "8", "3"))),
        st.tuples(st.just("fsettimes"), slot, times, times, st.sampled_from(("1", "4", "10"))),
        st.tuples(st.just("renumber"), slot, slot),
        st.tuples(st.just("sync"), slot),
    ]  # fmt: skip
    if allocate:
        choices.append(st.tuples(st.just("alloc"), slot, _offset().map(str),
                                 st.integers(0, 40).map(str)))  # fmt: skip
    return st.one_of(*choices)


def _prelude() -> st.SearchStrategy[list[Op]]:
    """One to three files created or directories made and opened into slots 0, 1 and 2 (a
    directory read-only, or with no rights), so that the operations after them have fds to
    work on."""
    name = st.sampled_from(NAMES)
    file = _open(name, st.sampled_from((O_CREAT, O_CREAT, O_CREAT | O_TRUNC)),
                 st.sampled_from(OPEN_RIGHTS)).map(lambda op: [op])  # fmt: skip
    directory = st.tuples(
        name, _open(name, st.just(O_DIRECTORY), st.sampled_from((RIGHTS_RO, RIGHTS_RO, 0)))
    ).map(lambda pair: [("mkdir", ".", pair[0]), (*pair[1][:3], pair[0], *pair[1][4:])])
    items = st.lists(st.one_of(file, file, directory), min_size=1, max_size=3)

    def in_slots(items: list[list[Op]]) -> list[Op]:
        # Each item's open (its last operation) goes to the next slot, from the preopen.
        return [
            ("open", str(slot), ".", *op[3:]) if op[0] == "open" else op
            for slot, ops in enumerate(items)
            for op in ops
        ]

    return items.map(in_slots)


def sequences(*, odd_paths: bool, allocate: bool, max_ops: int = 30) -> st.SearchStrategy[list[Op]]:
    """A prelude (up to 6 operations) that leaves fds in slots, then at least a third of
    ``max_ops`` random operations: hypothesis's lists are short otherwise (most under 5
    operations), too short for an open and what uses its fd."""
    body = st.lists(
        op_strategy(odd_paths=odd_paths, allocate=allocate),
        min_size=max_ops // 3,
        max_size=max(max_ops // 3, max_ops - 6),
    )
    return st.tuples(_prelude(), body).map(lambda parts: parts[0] + parts[1])


def with_wasmtime_rights(ops: Sequence[Op]) -> list[Op]:
    """``ops`` with each open's rights replaced by the set that means to wasi.wasm what the
    asked-for rights mean to wasmtime, whose fd gets a fixed set for its access mode: it
    reads when FD_READ or FD_READDIR is asked for or nothing that writes, and writes when a
    right in WRITE_RIGHTS is asked for or with O_CREAT / O_TRUNC. The inheriting rights
    become everything (wasmtime does not look at them)."""
    out: list[Op] = []
    for op in ops:
        if op[0] != "open" or len(op) < 8:
            out.append(op)
            continue
        oflags, rights = int(op[4]), int(op[5])
        writes = bool(rights & WRITE_RIGHTS) or bool(oflags & (O_CREAT | O_TRUNC))
        reads = bool(rights & READ_RIGHTS) or not rights & WRITE_RIGHTS
        same = RIGHTS_ALL & ~(0 if reads else READ_RIGHTS) & ~(0 if writes else WRITE_RIGHTS)
        out.append((*op[:5], str(same), *op[6:8], str(RIGHTS_ALL)))
    return out


def wasmtime_rights_difference(op: Op, want: str, have: str) -> bool:
    """The one errno the rights still change: set_size on a read-only fd (opened without
    FD_FILESTAT_SET_SIZE, which would make wasmtime open it for writing) is EINVAL in wasmtime
    (ftruncate on an O_RDONLY file) and ENOTCAPABLE in wasi.wasm."""
    return op[0] == "trunc" and (want, have) == ("EINVAL", "ENOTCAPABLE")


def program_text(ops: Sequence[Op]) -> bytes:
    return "".join(render(op) + "\n" for op in [*ops, ("tree",)]).encode()


# -- runners ----------------------------------------------------------------------------------


@dataclass
class Result:
    lines: list[str]
    fsck: int = 0


class WasiWasmRunner:
    """Runs each sequence as a new process on one shared filesystem, in its own VFS
    directory (preopened as /sandbox), and runs fsck after each one.

    A wasmtime Store never frees its instances (each run adds three) and allows 10,000, so
    the runner moves to a fresh Store on the same filesystem every RUNS_PER_STORE runs."""

    RUNS_PER_STORE = 1000

    def __init__(self, program: Path) -> None:
        self.module, _name = wasi_wasm.load_program(program)
        self.wasi = wasi_wasm.start_wasi(preopens={})
        self.count = 0

    def run(self, ops: Sequence[Op]) -> Result:
        self.count += 1
        if self.count % self.RUNS_PER_STORE == 0:
            fresh = wasi_wasm.start_wasi(self.wasi.init_obj(), preopens={})
            self.wasi.close()
            self.wasi = fresh
        directory = f"/s{self.count}"
        self.wasi.mkdir(directory)
        result = self.wasi.run(
            self.module, stdin=program_text(ops), preopens={SANDBOX: directory},
            program_name="fuzz_driver.wasm",
        )  # fmt: skip
        lines = result.stdout.decode("utf-8", "replace").splitlines()
        if result.exit_code != 0:
            lines.append(f"exit {result.exit_code} {result.stderr!r}")
        fsck = self.wasi.fsck()
        # Keep the shared VFS small: remove this sequence's tree again.
        self.wasi.rmtree(directory)
        return Result(lines, fsck)

    def close(self) -> None:
        self.wasi.close()


@cache
def _wasmtime_engine() -> wasmtime.Engine:
    return wasmtime.Engine()


@cache
def _wasmtime_linker() -> wasmtime.Linker:
    linker = wasmtime.Linker(_wasmtime_engine())
    linker.define_wasi()
    return linker


@cache
def _wasmtime_module(program: Path) -> wasmtime.Module:
    return wasmtime.Module.from_file(_wasmtime_engine(), str(program))


def run_wasmtime(program: Path, ops: Sequence[Op]) -> Result:
    """The sequence under wasmtime-py's WASI, with a fresh temp dir preopened as /sandbox."""
    module = _wasmtime_module(program)
    with tempfile.TemporaryDirectory(prefix="wasi-fuzz-") as tmp:
        root = Path(tmp)
        box = root / "sandbox"
        box.mkdir()
        (root / "stdin").write_bytes(program_text(ops))
        config = wasmtime.WasiConfig()
        config.argv = ["fuzz_driver.wasm"]
        config.stdin_file = str(root / "stdin")
        config.stdout_file = str(root / "stdout")
        config.stderr_file = str(root / "stderr")
        config.preopen_dir(str(box), SANDBOX)
        store = wasmtime.Store(_wasmtime_engine())
        store.set_wasi(config)
        instance = _wasmtime_linker().instantiate(store, module)
        start = instance.exports(store)["_start"]
        assert isinstance(start, wasmtime.Func)
        extra: list[str] = []
        try:
            start(store)
        except wasmtime.ExitTrap as exit_trap:
            if exit_trap.code:
                extra.append(f"exit {exit_trap.code}")
        except wasmtime.Trap as trap:
            extra.append(f"trap {str(trap).splitlines()[0]}")
        del store
        lines = (root / "stdout").read_bytes().decode("utf-8", "replace").splitlines()
        return Result(lines + extra)


def run_reference_model(ops: Sequence[Op]) -> Result:
    return Result(run_model([*ops, ("tree",)]))


# -- comparison -------------------------------------------------------------------------------


def first_difference(
    ops: Sequence[Op],
    expected: Sequence[str],
    got: Sequence[str],
    reference: str,
) -> str | None:
    """None if equal (against wasmtime: up to the rights difference), else a message naming
    the first differing step."""
    steps = [*ops, ("tree",)]
    for index, (want, have) in enumerate(zip(expected, got, strict=False)):
        if want == have:
            continue
        op = steps[min(index, len(steps) - 1)]
        intended = reference == "wasmtime" and wasmtime_rights_difference(op, want, have)
        if index < len(ops) and intended:
            continue
        return (
            f"step {index + 1} `{render(op)}`: {reference} gives {want!r}, "
            f"wasi.wasm {have!r}\nsequence ({len(ops)} steps):\n{describe(ops)}"
        )
    if len(expected) != len(got):
        return (
            f"{reference} printed {len(expected)} lines, wasi.wasm {len(got)}; tails: "
            f"{list(expected[len(got) :])[:5]} vs {list(got[len(expected) :])[:5]}\n"
            f"sequence ({len(ops)} steps):\n{describe(ops)}"
        )
    return None


class Fuzzer:
    """Everything one fuzzing session needs: the driver and a wasi.wasm runner."""

    def __init__(self, program: Path) -> None:
        self.program = program
        self.runner = WasiWasmRunner(program)

    def against_wasmtime(self, ops: Sequence[Op]) -> str | None:
        ops = with_wasmtime_rights(ops)
        reference = run_wasmtime(self.program, ops)
        result = self.runner.run(ops)
        if result.fsck:
            return f"fsck found {result.fsck} problems after:\n{describe(ops)}"
        return first_difference(ops, reference.lines, result.lines, "wasmtime")

    def against_model(self, ops: Sequence[Op]) -> str | None:
        result = self.runner.run(ops)
        if result.fsck:
            return f"fsck found {result.fsck} problems after:\n{describe(ops)}"
        model = run_reference_model(ops)
        return first_difference(ops, model.lines, result.lines, "the model")

    def model_against_wasmtime(self, ops: Sequence[Op]) -> str | None:
        ops = with_wasmtime_rights(ops)
        reference = run_wasmtime(self.program, ops)
        model = run_reference_model(ops)
        message = first_difference(ops, reference.lines, model.lines, "wasmtime")
        return message.replace("wasi.wasm", "the model") if message else None

    def close(self) -> None:
        self.runner.close()


# -- the tests --------------------------------------------------------------------------------

FUZZ_SETTINGS = settings(
    derandomize=True,  # the same sequences on every CI run
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


@pytest.fixture(scope="module")
def fuzzer(wasm_program: Callable[..., Path]) -> Iterator[Fuzzer]:
    session = Fuzzer(wasm_program("fuzz_driver"))
    yield session
    assert session.runner.wasi.fsck() == 0
    session.close()


@settings(FUZZ_SETTINGS, max_examples=1500)
@given(ops=sequences(odd_paths=True, allocate=False))
def test_sequences_match_wasmtime(fuzzer: Fuzzer, ops: list[Op]) -> None:
    """Every step's errno and data, and the final tree, as under wasmtime's WASI."""
    message = fuzzer.against_wasmtime(ops)
    assert message is None, message


@settings(FUZZ_SETTINGS, max_examples=2000)
@given(ops=sequences(odd_paths=False, allocate=True))
def test_sequences_match_the_model(fuzzer: Fuzzer, ops: list[Op]) -> None:
    """With fd_allocate (ENOTSUP under wasmtime), against the reference model."""
    message = fuzzer.against_model(ops)
    assert message is None, message


@settings(FUZZ_SETTINGS, max_examples=300)
@given(ops=sequences(odd_paths=False, allocate=False))
def test_model_matches_wasmtime(fuzzer: Fuzzer, ops: list[Op]) -> None:
    """The model itself is checked against wasmtime where both apply."""
    message = fuzzer.model_against_wasmtime(ops)
    assert message is None, message


# Hand-written sequences for situations random ones reach rarely.
REGRESSIONS = {
    "rename a directory while an fd points inside it": (
        "mkdir . a|mkdir . a/b|open 0 . a/b 2 {RO} 0 0 {ALL}|open 1 0 f 1 {ALL} 0 0|write 1 6869|"
        "rename . a . c|stat 0 f 0|readdir 0|rename . c/b . b|open 2 0 f 0 {RO} 0 0|read 2 5|"
        "stat 0 ../f 0|rmdir . b|unlink 0 f|rmdir . b|readdir 0|open 3 0 g 1 {ALL} 0 0"
    ),
    "sparse writes and truncation": (
        "open 0 . f 1 {ALL} 0 0|pwrite 0 ff 70000|fstat 0|pread 0 4 69998|trunc 0 3|"
        "pread 0 8 0|trunc 0 70000|alloc 0 80000 5|fstat 0|seek 0 0 2|write 0 01"
    ),
    "unlinked open file stays readable": (
        "open 0 . f 1 {ALL} 0 0|write 0 616263|unlink . f|seek 0 0 0|read 0 10|fstat 0|"
        "link . f . g 0|open 1 . f 1 {ALL} 0 0|fstat 1"
    ),
    "symlink chains, loops and dangling links": (
        "symlink b . a|symlink c . b|symlink d . c|open 0 . a 1 {ALL} 0 1|stat . d 0|"
        "symlink y . x|symlink x . y|stat . x 1|open 1 . x 1 {ALL} 0 1|symlink ../a . z|"
        "stat . z 1|mkdir . m|symlink ../a . m/up|stat . m/up 1|stat 0 m 0"
    ),
    "set_times with nothing to set looks only at the parent": (
        "settimes . a 0 0 0 0|settimes . a 1 0 0 0|settimes . a/ 0 0 0 0|settimes . x/a 0 0 0 0|"
        "settimes . /a 0 0 0 0|settimes . .. 0 0 0 0|settimes . . 0 0 0 0|mkdir . d|"
        "settimes . d/ 0 0 0 0|settimes . d/.. 0 0 0 0|open 0 . f 1 {ALL} 0 0|"
        "settimes . f/a 0 0 0 0|settimes . f/ 0 0 0 0|symlink nowhere . l|settimes . l 0 0 0 0|"
        "settimes . l/ 0 0 0 0|settimes . l/a 0 0 0 0|symlink s . s|settimes . s/x 0 0 0 0|"
        "settimes 0 a 0 0 0 0|settimes . a 0 0 0 15"
    ),
    "rights are exactly those asked for, as far as the directory passes them on": (
        "open 0 . f 1 {READ} 0 0|write 0 61|fstat 0|open 0 . f 9 {READ} 0 0|write 0 61|"
        "open 0 . f 1 {WRITE} 0 0|write 0 6162|read 0 1|open 1 . f 0 0 0 0|read 1 1|write 1 =|"
        "fstat 1|tell 1|seek 1 0 0|sync 1|trunc 1 0|alloc 1 0 1|fdflags 1 1|fsettimes 1 0 0 1|"
        "mkdir . d|open 3 . d/f 1 {ALL} 0 0|write 3 78|"
        "open 2 . d 2 {RO} 0 0 0|open 3 2 f 0 {ALL} 0 0|read 3 1|write 3 63|fstat 3|"
        "readdir 2|stat 2 f 0|open 2 . d 2 0 0 0 {ALL}|stat 2 f 0|mkdir 2 e|unlink 2 f|"
        "readdir 2|open 2 . d 2 {RO} 0 0 {RO}|open 3 2 f 0 {ALL} 0 0 {ALL}|read 3 2|write 3 63|"
        "trunc 3 0|open 1 2 . 2 {RO} 0 0 {ALL}|open 3 1 f 1 {ALL} 0 0|write 3 64|"
        "open 2 . d 2 {RO} 0 0 {WO}|open 3 2 f 0 {ALL} 0 0|read 3 1|write 3 65|trunc 3 1|"
        "alloc 3 4 4|fstat 3|open 3 2 f 0 {RO} 0 0|read 3 1|write 3 66|fstat 3|"
        "open 2 . d 2 {WO} 0 0 {ALL}|open 2 . d 2 {ALL} 0 0 {ALL}|open 0 . f 8 {FEW} 0 0|"
        "write 0 67|tell 0|fstat 0|seek 0 0 0|alloc 0 0 1|trunc 0 0"
    ),
    "renumber and appends": (
        "open 0 . f 1 {ALL} 1 0|write 0 6162|open 1 . f 0 {ALL} 0 0|renumber 0 1|write 1 63|"
        "tell 1|pwrite 1 7a 0|close 0|renumber 1 1|read 1 4|fdflags 1 0|seek 1 0 0|write 1 78"
    ),
    # Errno order and trailing slashes, where wasi.wasm once differed from wasmtime:
    # set_times refuses ATIM with ATIM_NOW (or MTIM with MTIM_NOW) before it looks at the fd
    # or the path: EINVAL, not ENOENT, EBADF or EPERM.
    "set_times checks its flags first": (
        "settimes . a 0 0 0 3|settimes 2 a 0 0 0 12|settimes . /a 0 0 0 3"
    ),
    # symlink resolves the link path (EPERM, ENOTDIR) before it refuses an empty target
    # (ENOENT, even where the name exists); an absolute target is EPERM; "file/" is
    # ENOTDIR, a missing "name/" ENOENT.
    "symlink looks at the link path before the target": (
        "symlink = . /a|symlink = . a/b|symlink = . ..|open 0 . f 1 {ALL} 0 0|symlink = . f/x|"
        "symlink = . f|symlink /x . a|symlink x . f/|symlink x . n/|mkdir . d|symlink x . d/"
    ),
    # link: both paths resolve, then a missing source (ENOENT), a taken target (EEXIST),
    # then a source directory (EPERM); a missing source "x/" is ENOENT at once.
    "link errno order": (
        "mkdir . c|link . c . a/b 0|link . . . . 0|link . x . /a 0|symlink b . b|"
        "link . a . b/a 0|link . n/ . /a 0"
    ),
    # Linking to a missing "name/" is ENOENT, for a directory too (before EPERM); an
    # existing "file/" on either side is ENOTDIR.
    "link to a missing name/": (
        "mkdir . b|link . b . c/ 0|link . b . b/ 0|open 0 . f 1 {ALL} 0 0|link . f . g/ 0|"
        "link . f . f/ 0|link . f/ . g 0"
    ),
    # O_CREAT on "name/" is EISDIR whatever name is: a file, a directory or nothing
    # (without O_CREAT: ENOTDIR for a file, ENOENT for nothing).
    "O_CREAT on name/": (
        "open 0 . a 1 {ALL} 0 0|open 1 . a/ 1 {ALL} 0 0|mkdir . d|open 2 . d/ 5 {ALL} 0 0|"
        "open 2 . n/ 1 {ALL} 0 0|open 2 . a/ 0 {ALL} 0 0|open 2 . n/ 0 {ALL} 0 0"
    ),
    # O_CREAT|O_EXCL on "./", "d/../" or "d/./" finds the directory existing: EEXIST
    # (without O_EXCL: EISDIR).
    "O_CREAT|O_EXCL on a final dot and slash": (
        "open 0 . ./ 5 {ALL} 0 0|mkdir . d|open 0 . d/../ 5 {ALL} 0 0|open 0 . d/./ 5 {ALL} 0 0|"
        "open 0 . d/./ 1 {ALL} 0 0"
    ),
    # rename refuses a final "." or ".." (EBUSY) before it looks for the source.
    "rename of or onto a dot": "rename . b . .|rename . . . b",
    # Renaming "file/" resolves the new path first (absolute: EPERM, empty: ENOENT, ".":
    # EBUSY, a symlink loop: ELOOP), then ENOTDIR; so does renaming a file onto "name/".
    "rename file/ resolves the new path first": (
        "open 0 . b 1 {ALL} 0 0|rename . b/ . /c|rename . b// . =|rename . b/ . .|"
        "symlink s . s|rename . b/ . s/x|rename . b/ . c|rename . b . c/"
    ),
    # Renaming a file or a directory onto a directory above it: ENOTEMPTY (Linux looks for
    # an ancestor before it compares types).
    "rename onto an ancestor": (
        "mkdir . c|open 0 . c/f 1 {ALL} 0 0|rename . c/f . c|mkdir . c/d|rename . c/d . c|"
        "mkdir . c/d/e|rename . c/d/e . c"
    ),
    # mkdir never follows a final symlink, even as "link/": EEXIST, dangling or not, and
    # nothing is created.
    "mkdir link/": "symlink c . b|mkdir . b/|mkdir . d|symlink d . l|mkdir . l/|stat . c 0",
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regression_sequences(fuzzer: Fuzzer, name: str) -> None:
    text = REGRESSIONS[name].format(
        RO=RIGHTS_RO, WO=RIGHTS_WO, ALL=RIGHTS_ALL, FEW=FEW_RIGHTS, READ=FD_READ, WRITE=FD_WRITE
    )
    ops = parse(text.replace("|", "\n"))
    checks = [fuzzer.against_model]
    if not any(op[0] == "alloc" for op in ops):  # wasmtime: ENOTSUP
        checks += [fuzzer.against_wasmtime, fuzzer.model_against_wasmtime]
    for check in checks:
        message = check(ops)
        assert message is None, message
