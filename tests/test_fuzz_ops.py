"""Random filesystem-operation sequences for tests/programs/fuzz_driver.c, and the three
ways to run one: wasi.wasm, wasmtime-py's own WASI on a temp directory, and the pure-Python
model of tests/fs_model.py.

Shared by tests/test_fuzz_ops.py (a few thousand sequences, derandomized) and tools/fuzz.py
(as many as asked for). An operation is a tuple of tokens; its text form is one line of the
driver's input (see fuzz_driver.c for the format).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import wasmtime
from hypothesis import strategies as st

import wasi_wasm
from fs_model import (
    ALLOWED_DIFFERENCES,
    RIGHTS_ALL,
    RIGHTS_RO,
    RIGHTS_WO,
    Op,
    render,
    run_model,
)

SLOTS = 4  # of the driver's 8: fewer slots make fds meet each other more often
NAMES = ("a", "b", "c")
SANDBOX = "/sandbox"

# -- strategies ----------------------------------------------------------------------------


def _paths(odd: bool) -> st.SearchStrategy[str]:
    """Paths over a three-name alphabet; ``odd`` adds ".", "..", trailing and doubled
    slashes, absolute and empty paths (what wasmtime answers, the model does not know)."""
    component = st.sampled_from(NAMES * 4 + (".", ".."))
    plain = st.lists(component, min_size=1, max_size=3).map("/".join)
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
    return st.integers(0, SLOTS - 1).map(str)


def _base() -> st.SearchStrategy[str]:
    return st.one_of(st.just("."), st.just("."), st.just("."), _slot())


def _data() -> st.SearchStrategy[str]:
    return st.binary(min_size=0, max_size=12).map(lambda b: b.hex() or "=")


def _offset() -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 40), st.just(70000))


def _flag() -> st.SearchStrategy[str]:
    return st.sampled_from(("0", "1"))


def op_strategy(*, odd_paths: bool, allocate: bool) -> st.SearchStrategy[Op]:
    path = _paths(odd_paths)
    slot, base, flag = _slot(), _base(), _flag()
    times = st.integers(0, 3).map(lambda k: str(k * 1_000_000_000))
    rights = st.sampled_from((RIGHTS_ALL, RIGHTS_ALL, RIGHTS_RO, RIGHTS_WO)).map(str)
    choices: list[st.SearchStrategy[Op]] = [
        st.tuples(st.just("open"), slot, base, path, st.integers(0, 15).map(str), rights,
                  st.sampled_from(("0", "0", "1")), flag),
        st.tuples(st.just("open"), slot, base, path, st.just("1"), st.just(str(RIGHTS_ALL)),
                  st.just("0"), st.just("1")),
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


def sequences(*, odd_paths: bool, allocate: bool, max_ops: int = 30) -> st.SearchStrategy[
    list[Op]
]:
    return st.lists(op_strategy(odd_paths=odd_paths, allocate=allocate), max_size=max_ops)


def program_text(ops: Sequence[Op]) -> bytes:
    return "".join(render(op) + "\n" for op in [*ops, ("tree",)]).encode()


# -- runners ----------------------------------------------------------------------------------


@dataclass
class Result:
    lines: list[str]
    fsck: int = 0


class WasiWasmRunner:
    """Runs each sequence as a new process on one shared Wasi, in its own VFS directory
    (preopened as /sandbox), and runs fsck after each one."""

    def __init__(self, program: Path) -> None:
        self.module, _name = wasi_wasm.load_program(program)
        self.wasi = wasi_wasm.start_wasi()
        self.count = 0

    def run(self, ops: Sequence[Op]) -> Result:
        self.count += 1
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
    ops: Sequence[Op], expected: Sequence[str], got: Sequence[str], reference: str
) -> str | None:
    """None if equal, else a message naming the first differing step."""
    steps = [render(op) for op in ops]
    for index, (want, have) in enumerate(zip(expected, got)):
        if want == have or _allowed(steps, index, want, have):
            continue
        step = steps[index] if index < len(steps) else "tree"
        return (
            f"step {index + 1} `{step}`: {reference} {want!r}, wasi.wasm {have!r}\n"
            f"sequence:\n" + "\n".join(steps)
        )
    if len(expected) != len(got):
        return (
            f"{reference} printed {len(expected)} lines, wasi.wasm {len(got)}:\n"
            f"{reference} tail {list(expected[len(got):])[:5]}\n"
            f"wasi.wasm tail {list(got[len(expected):])[:5]}\n"
            "sequence:\n" + "\n".join(steps)
        )
    return None


def _allowed(steps: Sequence[str], index: int, want: str, have: str) -> bool:
    op = steps[index].split(" ", 1)[0] if index < len(steps) else "tree"
    return (op, want, have) in ALLOWED_DIFFERENCES
