"""Where a bench.c benchmark spends its time, by core function: builds the core with its
function names, runs the benchmark many times in one process under ``perf record`` with
wasmtime's perfmap, and prints perf's top symbols.

usage: python bench/profile.py BENCH [--reps N] [--core PATH] [--top N]

BENCH is a bench/bench.c name (open_close, create_unlink, stat_deep, ...). --core profiles
another core, for example one built the same way from an older commit (the build must keep
its names: tools/build.py's flags without --strip-all and -s). Needs Linux ``perf``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

GUEST_DIR = "/w"
STRIP_FLAGS = ("-Wl,--strip-all", "-s")


def build_named_core(out: Path) -> Path:
    """The core as tools/build.py builds it, names kept."""
    import build  # noqa: PLC0415 - tools/ is on the path only for this script

    flags = [flag for flag in build.FLAGS if flag not in STRIP_FLAGS]
    sources = sorted(str(p.relative_to(build.ROOT)) for p in build.SOURCES.glob("*/*.c"))
    out.write_bytes(build.patch_max_pages(build.compile_wasm(flags, sources)))
    return out


def run_benchmark(core: Path, bench: str, reps: int) -> None:
    """In the profiled child: the core on an engine that writes /tmp/perf-PID.map."""
    import wasmtime  # noqa: PLC0415

    import wasi_wasm  # noqa: PLC0415
    from wasi_wasm import _engine, _init  # noqa: PLC0415
    from wasm_build import compile_program  # noqa: PLC0415

    config = wasmtime.Config()
    for attribute, _name in _engine._ENGINE_SETTINGS:
        setattr(config, attribute, True)
    config.profiler = "perfmap"
    _engine._engine = wasmtime.Engine(config)
    _init._packaged = wasmtime.Module(_engine._engine, core.read_bytes())
    program = compile_program(ROOT / "bench" / "bench.c")
    output = b""
    for _ in range(reps):
        result = wasi_wasm.run(
            program, args=[bench, GUEST_DIR, "1"], preopens={GUEST_DIR: GUEST_DIR}
        )
        output = result.stdout + result.stderr
    print(output.decode().strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bench")
    parser.add_argument("--reps", type=int, default=150)
    parser.add_argument("--core", type=Path, help="a core built with names (default: build one)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_benchmark(args.core, args.bench, args.reps)
        return 0
    perf = shutil.which("perf")
    if not perf:
        print("profile: needs Linux perf (apt-get install linux-perf)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as scratch:
        core = args.core or build_named_core(Path(scratch) / "named.wasm")
        data = Path(scratch) / "perf.data"
        child = [
            sys.executable,
            __file__,
            args.bench,
            "--child",
            "--reps",
            str(args.reps),
            "--core",
            str(core),
        ]
        subprocess.run([perf, "record", "-q", "-F", "4999", "-o", str(data), *child], check=True)
        report = subprocess.run(
            [perf, "report", "-i", str(data), "--no-children", "--sort", "symbol", "--stdio"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    rows = [
        line for line in report.stdout.splitlines() if line.strip() and not line.startswith("#")
    ]
    for line in rows[: args.top]:
        fields = line.split()
        print(f"{fields[0]:>8}  {fields[2]}")  # share, [.] or [k], symbol, then empty columns
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
