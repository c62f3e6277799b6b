"""Many small lines through the command line: `wasi-wasm run` against wasmtime-py's own WASI.

usage: python bench/stdout_lines.py [--lines N] [--reps R]

tests/programs/stdout_pace.c writes N lines of about 10 bytes, each with its own write(2),
as a program whose stdout is line-buffered or flushed does. Each runtime runs it in a fresh
Python process with stdout a pipe that this script drains: `python -m wasi_wasm run`, and a
few lines of wasmtime-py (its WASI with stdout inherited: each write goes straight to the
pipe). A run of 0 lines gives each one's start-up, so the per-line cost is
(time(N) - time(0)) / N; best of R alternating repetitions. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from wasm_build import compile_program  # noqa: E402 - after the path it lives on

WASMTIME_PY = textwrap.dedent(
    """
    import sys, wasmtime
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, sys.argv[1])
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    config = wasmtime.WasiConfig()
    config.argv = ["stdout_pace", *sys.argv[2:]]
    config.inherit_stdout()
    config.inherit_stderr()
    store.set_wasi(config)
    try:
        linker.instantiate(store, module).exports(store)["_start"](store)
    except wasmtime.ExitTrap as exit:
        sys.exit(exit.code)
    """
)


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        while process.stdout.read(1 << 16):
            pass
    if process.returncode:
        raise SystemExit(f"stdout_lines: {command[:4]} exited {process.returncode}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    program = str(compile_program("stdout_pace"))
    runtimes = {
        "wasi-wasm run": [sys.executable, "-m", "wasi_wasm", "run", program, "--", "lines"],
        "wasmtime-py WASI": [sys.executable, "-c", WASMTIME_PY, program, "lines"],
    }
    best: dict[tuple[str, int], float] = {}
    for _ in range(args.reps):
        for name, command in runtimes.items():
            for count in (0, args.lines):
                seconds = timed([*command, str(count)])
                best[name, count] = min(best.get((name, count), seconds), seconds)
    per_line = {name: (best[name, args.lines] - best[name, 0]) / args.lines for name in runtimes}
    print(f"| runtime | start-up (s) | per line (us), {args.lines:,} lines |")
    print("|---|---|---|")
    for name in runtimes:
        print(f"| {name} | {best[name, 0]:.2f} | {per_line[name] * 1e6:.2f} |")
    ratio = per_line["wasmtime-py WASI"] / per_line["wasi-wasm run"]
    print(f"\nwasi-wasm delivers a line {ratio:.1f}x as fast as wasmtime-py's WASI")
    return 0


if __name__ == "__main__":
    sys.exit(main())
