"""Wasm operations per WASI call sequence, counted by wasmtime's fuel, for one core or to
compare cores: a measure of the core's work that a noisy shared machine cannot blur
(repeatable to a few operations; timings of the same cores drift by 10% there).

usage: python bench/ops.py [--rev REV | --core PATH]... [--only NAME,...] [--count N]
                          [--time | --locked | --functions | --instructions]

Each sequence of bench/calls.c (raw WASI calls in a preopened directory) runs COUNT and
3 x COUNT times, each run in a fresh filesystem; the difference of the fuel the two runs
used, over 2 x COUNT, is the sequence's cost, less the empty loop's. It counts the guest's
call stubs and the bridge's copies too, which are the same for every core. --rev takes the
core committed at a git revision (REV:src/wasi_wasm/wasi.wasm); with no core named, the
working tree's src/wasi_wasm/wasi.wasm (python tools/build.py writes it). Operations are
not time: an atomic read-modify-write counts one, a call into a large function compiled
with spills costs more than its count (bench/RESULTS.md measures both), but an added step
shows here however small. --time times the sequences instead (ns, best of 9 runs that
alternate the cores, a run of 5 x COUNT subtracted from one of 50 x COUNT). --locked counts
the core's atomic read-modify-writes, atomic stores and notifies instead: what fuel counts
one each but costs a locked instruction or a fence on x86 (or a call, for a notify). It
rewrites each core with a counter before each of them, through wasm2wat and wat2wasm
(apt-get install wabt). --functions splits each sequence's operations by core function
(each function's own, its callees' not counted), with a counter per function before each
instruction that fuel counts; it needs cores with their names (the working tree's is built
named; --core a build without tools/build.py's --strip-all and -s) and wabt too.
--instructions counts the x86 instructions each sequence executes instead, in the code
wasmtime compiled, as valgrind's callgrind counts them (apt-get install valgrind): unlike
fuel it sees a call's prologue and a spill, and unlike a timing it repeats (to about 25
instructions a sequence at the default count: the core and the program load from the
compiled-module cache, so no compile runs under it, and the file clock's thread does not
tick). Each run is a child process under
valgrind, 10-30 s each; the empty loop costs less than that noise and is not subtracted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import wasmtime

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

import wasi_wasm  # noqa: E402
from wasi_wasm import _engine, _file_clock, _init, _process, _store  # noqa: E402
from wasi_wasm._wasmtime_private import Importable, instantiate  # noqa: E402
from wasm_build import compile_program  # noqa: E402

SEQUENCES = ["fdstat", "stat", "open_close", "pread16", "pwrite16", "create_unlink", "rewrite",
             "rewrite_bulk", "rename", "mkdir_rmdir", "readdir"]
FUEL = 1 << 62
Table = dict[str, list[float]]  # sequence -> one value per core
TIME_RUNS = 9
GUEST_DIR = "/d"


LOCKED_COUNTER = "wasi_wasm_locked"
# In wasm2wat's output, one instruction a line.
LOCKED_INSTRUCTION = re.compile(
    r"^(\s*)((?:i32|i64)\.atomic\.(?:rmw|store)\S*|memory\.atomic\.notify)\b", re.MULTILINE
)


# wasmtime's fuel: every operator costs 1 except these (cranelift's fuel_before_op).
FREE_OPERATORS = frozenset({"nop", "drop", "block", "loop", "unreachable", "return", "else", "end"})
FUNCTION_COUNTER = "ops:"


class FuelStore(_store.WasiStore):
    """The package's Store with fuel: what a program's Store used is added to ``spent`` when
    it closes (a run's Store closes with its program; a Wasi's may be closed twice). In a
    core counting its locked instructions (with_locked_counter), the counters of the
    instances the Store made are added to ``locked``."""

    spent = 0
    locked = 0
    by_function: ClassVar[dict[str, int]] = {}
    instances: ClassVar[list[tuple[wasmtime.Store, wasmtime.Instance]]] = []

    def __init__(self, engine: wasmtime.Engine) -> None:
        super().__init__(engine)
        self.set_fuel(FUEL)
        self.counted = False

    def close(self) -> None:
        if not self.counted:
            self.counted = True
            FuelStore.spent += FUEL - self.get_fuel()
            for store, instance in FuelStore.instances:
                if store is self:
                    FuelStore.locked += locked_count(self, instance)
                    add_function_counts(self, instance, FuelStore.by_function)
        super().close()


def locked_count(store: wasmtime.Store, instance: wasmtime.Instance) -> int:
    counter = instance.exports(store).get(LOCKED_COUNTER)
    if not isinstance(counter, wasmtime.Global):
        return 0
    value = counter.value(store)
    assert isinstance(value, int)
    return value


def add_function_counts(store: wasmtime.Store, instance: wasmtime.Instance,
                        into: dict[str, int]) -> None:
    for name, item in instance.exports(store).items():
        if name.startswith(FUNCTION_COUNTER) and isinstance(item, wasmtime.Global):
            value = item.value(store)
            assert isinstance(value, int)
            into[name[len(FUNCTION_COUNTER):]] = into.get(name[len(FUNCTION_COUNTER):], 0) + value


def recording_instantiate(
    store: wasmtime.Store, module: wasmtime.Module, imports: Sequence[Importable]
) -> wasmtime.Instance:
    instance = instantiate(store, module, imports)
    FuelStore.instances.append((store, instance))
    return instance


def with_locked_counter(wasm: bytes) -> bytes:
    """The core, counting its locked instructions in an exported global."""
    wat = wat_of(wasm)

    def counted(match: re.Match[str]) -> str:
        indent = match.group(1)
        bump = ["global.get $counter", "i64.const 1", "i64.add", "global.set $counter"]
        return "".join(f"{indent}{step}\n" for step in bump) + match.group(0)

    first_export = '  (export "memory"'
    counter = (f'  (global $counter (mut i64) (i64.const 0))\n'
               f'  (export "{LOCKED_COUNTER}" (global $counter))\n')
    wat = LOCKED_INSTRUCTION.sub(counted, wat).replace(first_export, counter + first_export, 1)
    return bytes(wasmtime.wat2wasm(wat))


def wat_of(wasm: bytes) -> str:
    if shutil.which("wasm2wat") is None:
        raise SystemExit("ops: --locked and --functions need wasm2wat (apt-get install wabt)")
    return subprocess.run(["wasm2wat", "--enable-all", "-"], input=wasm, capture_output=True,
                          check=True).stdout.decode()


def with_function_counters(wasm: bytes) -> bytes:
    """The core, counting in an exported global per function the operations fuel counts."""
    lines: list[str] = []
    counters: list[tuple[str, str]] = []
    counter: str | None = None
    for line in wat_of(wasm).splitlines():
        if line.startswith("  ("):
            header = re.match(r"  \(func (?:\$(\S+)|\(;(\d+);\))", line)
            counter = None
            if header:
                counter = f"$ops{len(counters)}"
                counters.append((counter, header.group(1) or f"function {header.group(2)}"))
        elif (counter and line.startswith("    ") and not line.lstrip().startswith("(")
              and line.split()[0].rstrip(")") not in FREE_OPERATORS):
            lines.append(f"    global.get {counter} i64.const 1 i64.add global.set {counter}")
        lines.append(line)
    if not counters:
        raise SystemExit("ops: --functions needs a core with its names")
    declared = "".join(f'  (global {counter} (mut i64) (i64.const 0))\n'
                       f'  (export "{FUNCTION_COUNTER}{name}" (global {counter}))\n'
                       for counter, name in counters)
    wat = "\n".join(lines).replace('  (export "memory"', declared + '  (export "memory"', 1)
    return bytes(wasmtime.wat2wasm(wat))


def fuel_engine() -> wasmtime.Engine:
    """The package's engine settings, with fuel counted."""
    config = wasmtime.Config()
    for attribute, _name in _engine._ENGINE_SETTINGS:
        setattr(config, attribute, True)
    config.consume_fuel = True
    return wasmtime.Engine(config)


def core_bytes(rev: str | None, path: Path | None) -> bytes:
    if path is not None:
        return path.read_bytes()
    if rev is not None:
        return subprocess.run(["git", "show", f"{rev}:src/wasi_wasm/wasi.wasm"], cwd=ROOT,
                              capture_output=True, check=True).stdout
    return (ROOT / "src" / "wasi_wasm" / "wasi.wasm").read_bytes()


def run_sequence(program: Path, sequence: str, count: int) -> None:
    """Runs sequence count times in a fresh filesystem; a failed run ends the tool."""
    with tempfile.TemporaryDirectory() as scratch:
        result = wasi_wasm.run(program, args=[sequence, str(count)], preopens={GUEST_DIR: scratch})
    if result.exit_code:
        raise SystemExit(f"ops: {sequence} failed: {result.stderr.decode().strip()}")


def run_counted(program: Path, sequence: str, count: int) -> None:
    FuelStore.spent = FuelStore.locked = 0
    FuelStore.instances = []
    FuelStore.by_function = {}
    run_sequence(program, sequence, count)


def fuel_of(program: Path, sequence: str, count: int, locked: bool = False) -> int:
    """The fuel a run spent, or with locked, its locked instructions."""
    run_counted(program, sequence, count)
    return FuelStore.locked if locked else FuelStore.spent


def functions_per_call(program: Path, sequence: str, count: int) -> dict[str, float]:
    """Each core function's own operations per sequence."""
    run_counted(program, sequence, 3 * count)
    more = FuelStore.by_function
    run_counted(program, sequence, count)
    fewer = FuelStore.by_function
    return {name: (more[name] - fewer.get(name, 0)) / (2 * count) for name in more}


def seconds_of(program: Path, sequence: str, count: int) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        wasi_wasm.run(program, args=[sequence, str(count)], preopens={GUEST_DIR: scratch})
        return time.perf_counter() - start


def best_ns(
    modules: list[wasmtime.Module], program: Path, sequence: str, count: int
) -> list[float]:
    """ns per sequence for each core: best of TIME_RUNS, the cores alternating run by run."""
    best = [float("inf")] * len(modules)
    for run in range(TIME_RUNS):
        order = list(enumerate(modules))
        for index, module in order if run % 2 == 0 else reversed(order):
            _init._packaged = module
            many, few = (seconds_of(program, sequence, n) for n in (10 * count, count))
            best[index] = min(best[index], (many - few) / (9 * count) * 1e9)
    return best


def instructions_of(core: Path, sequence: str, count: int, cache: Path,
                    under_valgrind: bool = True) -> int:
    """Instructions a child process executed running sequence count times, as callgrind
    counts them (0 when not under valgrind). The compiled modules come from cache, which
    only these children use: another process's tests could evict an entry from the shared
    cache, and the compile that follows would count as the sequence's (+130,000 a call)."""
    command = [sys.executable, __file__, "--run-one", str(core), sequence, str(count)]
    if under_valgrind:
        command[:0] = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                       "--smc-check=all-non-file"]  # wasmtime's code is written at run time
    env = os.environ | {"PYTHONHASHSEED": "0", "WASI_WASM_CACHE_DIR": str(cache)}
    env.pop("WASI_WASM_NO_CACHE", None)
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or (under_valgrind and not found):
        raise SystemExit(f"ops: {sequence} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1)) if found else 0


def count_instructions(cores: list[bytes], sequences: list[str], count: int) -> Table:
    """Instructions per sequence for each core: (3 x count runs - count runs) / (2 x count)."""
    if not shutil.which("valgrind"):
        raise SystemExit("ops: --instructions needs valgrind (apt-get install valgrind)")
    table: Table = {name: [] for name in sequences}
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(scratch) / "cache"
        for index, wasm in enumerate(cores):
            core = Path(scratch) / f"core{index}.wasm"
            core.write_bytes(wasm)
            instructions_of(core, "loop", 1, cache, under_valgrind=False)  # fills the cache
            for name in sequences:
                more, fewer = (instructions_of(core, name, n, cache) for n in (3 * count, count))
                table[name].append((more - fewer) / (2 * count))
    return table


def run_one(core: Path, program: Path, sequence: str, count: int) -> None:
    # The file clock's thread wakes every millisecond of wall time, which valgrind stretches
    # by the machine's load: its instructions were most of the noise (a sequence read
    # +50% once). Set once when the run starts, the word still serves every stamp.
    _file_clock.TICK_SECONDS = 3600.0
    _init._packaged = _engine.compile_cached(core.read_bytes())
    run_sequence(program, sequence, count)


def per_call(program: Path, sequence: str, count: int, locked: bool = False) -> float:
    more, fewer = (fuel_of(program, sequence, n, locked) for n in (3 * count, count))
    return (more - fewer) / (2 * count)


@contextlib.contextmanager
def fuel_counting() -> Iterator[None]:
    """The package's engine and Stores swapped for ones that count fuel, then put back."""
    engine, store_class = _engine._engine, _store.WasiStore
    _engine._engine = fuel_engine()
    setattr(_store, "WasiStore", FuelStore)  # noqa: B010 - every Store the package makes
    setattr(_process, "instantiate", recording_instantiate)  # noqa: B010 - every core instance
    try:
        yield
    finally:
        _engine._engine = engine
        setattr(_store, "WasiStore", store_class)  # noqa: B010
        setattr(_process, "instantiate", instantiate)  # noqa: B010 - the real one


def count_ops(cores: list[bytes], program: Path, sequences: list[str], count: int,
              locked: bool = False) -> Table:
    table: Table = {name: [] for name in sequences}
    with fuel_counting():
        for core in cores:
            wasm = with_locked_counter(core) if locked else core
            _init._packaged = wasmtime.Module(_engine.get_engine(), wasm)
            loop = per_call(program, "loop", count, locked)
            for name in sequences:
                table[name].append(per_call(program, name, count, locked) - loop)
    return table


def count_functions(cores: list[bytes], program: Path, sequences: list[str],
                    count: int) -> dict[str, dict[str, list[float]]]:
    """sequence -> function -> its operations per sequence in each core."""
    tables: dict[str, dict[str, list[float]]] = {name: {} for name in sequences}
    with fuel_counting():
        for index, core in enumerate(cores):
            _init._packaged = wasmtime.Module(_engine.get_engine(), with_function_counters(core))
            for name in sequences:
                for function, ops in functions_per_call(program, name, count).items():
                    row = tables[name].setdefault(function, [0.0] * len(cores))
                    row[index] = ops
    return tables


def print_functions(labels: list[str], tables: dict[str, dict[str, list[float]]]) -> None:
    for name, table in tables.items():
        rows = sorted(((f, v) for f, v in table.items() if any(abs(x) >= 0.5 for x in v)),
                      key=lambda row: -max(row[1]))
        print(f"\n{name}: operations per sequence by core function (its own, not its callees')")
        totals = [sum(values[i] for values in table.values()) for i in range(len(labels))]
        print_table(labels, {"total": totals} | dict(rows), width=34)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", action="append", default=[], help="a git revision's core")
    parser.add_argument("--core", action="append", default=[], type=Path, help="a core file")
    parser.add_argument("--only", help="comma-separated sequence names")
    parser.add_argument("--count", type=int, default=2000)
    measure = parser.add_mutually_exclusive_group()
    measure.add_argument("--time", action="store_true", help="time the sequences instead")
    measure.add_argument("--locked", action="store_true", help="count locked instructions instead")
    measure.add_argument("--functions", action="store_true",
                         help="split the operations by core function (cores with names)")
    measure.add_argument("--instructions", action="store_true",
                         help="count x86 instructions under valgrind instead")
    parser.add_argument("--run-one", nargs=3, metavar=("CORE", "SEQUENCE", "COUNT"),
                        help=argparse.SUPPRESS)  # the child that --instructions measures
    args = parser.parse_args()
    if args.run_one:
        core, sequence, count = args.run_one
        run_one(Path(core), compile_program(ROOT / "bench" / "calls.c"), sequence, int(count))
        return 0
    cores: list[tuple[str, bytes]] = [(rev, core_bytes(rev, None)) for rev in args.rev]
    cores += [(path.name, core_bytes(None, path)) for path in args.core]
    if not cores and args.functions:
        from profile import build_named_core  # noqa: PLC0415 - bench/'s own, only here

        with tempfile.TemporaryDirectory() as scratch:
            cores = [("working tree", build_named_core(Path(scratch) / "named.wasm").read_bytes())]
    if not cores:
        cores = [("working tree", core_bytes(None, None))]
    labels = [label for label, _wasm in cores]
    sequences = args.only.split(",") if args.only else SEQUENCES
    program = compile_program(ROOT / "bench" / "calls.c")
    if args.functions:
        tables = count_functions([wasm for _label, wasm in cores], program, sequences, args.count)
        print_functions(labels, tables)
    elif args.time:  # in a process of its own: the package keeps objects of its first engine
        modules = [_engine.compile_cached(wasm) for _label, wasm in cores]
        times = {name: best_ns(modules, program, name, 5 * args.count) for name in sequences}
        print(f"ns per sequence (best of {TIME_RUNS} alternating runs)")
        print_table(labels, times)
    elif args.instructions:
        print("x86 instructions per sequence (callgrind; the empty loop's not subtracted)")
        wasms = [wasm for _label, wasm in cores]
        print_table(labels, count_instructions(wasms, sequences, args.count))
    else:
        what = "locked instructions" if args.locked else "wasm operations"
        print(f"{what} per sequence (the empty loop's cost subtracted)")
        wasms = [wasm for _label, wasm in cores]
        print_table(labels, count_ops(wasms, program, sequences, args.count, args.locked))
    return 0


def print_table(labels: list[str], table: Table, width: int = 14) -> None:
    print(f"{'':{width}}" + "".join(f"{label[:16]:>18}" for label in labels))
    for name, values in table.items():
        cells = [f"{values[0]:18.1f}"]
        cells += [f"{value:10.1f} ({value / values[0] - 1:+.1%})" if values[0] else f"{value:18.1f}"
                  for value in values[1:]]
        print(f"{name[:width - 1]:{width}}" + "".join(cells))


if __name__ == "__main__":
    sys.exit(main())
