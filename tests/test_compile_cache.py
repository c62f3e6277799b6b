"""The compiled-program cache on disk (issue 13): ``run(path)``, ``Wasi.run``, ``run_pipeline``
and the CLI compile a program once per machine, keyed by the module's hash, the wasmtime
version and the engine's settings; concurrent processes share it; a damaged entry is compiled
again; a size cap evicts the least recently used entries; ``--no-cache`` and
``WASI_WASM_NO_CACHE`` turn it off; a slow compile is announced on the CLI only.

In-process tests forget the process's own memory of compiled modules (``forget``) to act as
a new process; the cross-process tests run real subprocesses on a private cache directory."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import wasmtime

import wasi_wasm
from cli_run import cli_env
from wasi_wasm import _engine, _program, cli

ENTRY_GLOB = "module-*.cwasm"


def big_program(functions: int, tag: int = 0) -> bytes:
    """A WASI command with ``functions`` distinct looping functions, all called from _start,
    which exits 0: it takes about 0.2 ms per function to compile. ``tag`` makes another
    module with the same behaviour."""
    bodies = [
        f"""(func $f{i} (param $x i32) (result i32) (local $i i32)
          (loop $l
            (local.set $x (i32.xor (i32.mul (local.get $x) (i32.const {0x9E3779B1 - (1 << 32) + i}))
                                   (i32.shr_u (local.get $x) (i32.const {i % 13 + 3}))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (i32.and (local.get $x) (i32.const 7)))))
          (i32.add (local.get $x) (i32.const {i + tag})))"""
        for i in range(functions)
    ]
    calls = "".join(f"(local.set $x (call $f{i} (local.get $x)))" for i in range(functions))
    wat = f"""(module
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      {" ".join(bodies)}
      (func (export "_start") (local $x i32)
        {calls}
        (call $exit (i32.and (local.get $x) (i32.const 0)))))"""
    return bytes(wasmtime.wat2wasm(wat))


@dataclass
class Cache:
    """A private cache directory, and the names of the modules compiled (not loaded)."""

    directory: Path
    compiled: list[str | None] = field(default_factory=list)

    def entries(self) -> list[Path]:
        return sorted(self.directory.glob(ENTRY_GLOB)) if self.directory.exists() else []


def forget() -> None:
    """Drop what this process remembers of compiled programs: the next load acts as in a new
    process (disk cache or compile)."""
    _engine._modules.clear()
    _program._load_file.cache_clear()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cache]:
    wasi_wasm.get_wasi()  # the core, compiled (or loaded) before the counting starts
    state = Cache(tmp_path / "cache")
    monkeypatch.setenv("WASI_WASM_CACHE_DIR", str(state.directory))
    monkeypatch.delenv("WASI_WASM_NO_CACHE", raising=False)
    monkeypatch.delenv("WASI_WASM_CACHE_MAX_BYTES", raising=False)
    monkeypatch.setattr(_engine, "_modules", {})
    real_compile = _engine._compile

    def counting(engine: wasmtime.Engine, wasm: bytes, name: str | None) -> wasmtime.Module:
        state.compiled.append(name)
        return real_compile(engine, wasm, name)

    monkeypatch.setattr(_engine, "_compile", counting)
    _program._load_file.cache_clear()
    yield state
    _program._load_file.cache_clear()


@pytest.fixture(scope="module")
def tool(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("api_tool")


# -- a second run does not compile --------------------------------------------------------------
def test_run_compiles_once_then_loads_from_disk(cache: Cache, tool: Path) -> None:
    assert wasi_wasm.run(tool, ["args", "x"]).exit_code == 0
    assert cache.compiled == [str(tool)]
    assert len(cache.entries()) == 1
    forget()
    result = wasi_wasm.run(tool, ["args", "x"])
    assert (result.exit_code, result.stdout.splitlines()[-1]) == (0, b"argv[2]=x")
    assert cache.compiled == [str(tool)]  # loaded, not compiled


def test_wasi_run_run_pipeline_and_bytes_share_the_cache(cache: Cache, tool: Path) -> None:
    with wasi_wasm.start_wasi() as fs:
        assert fs.run(tool, ["args"]).exit_code == 0
    forget()
    with wasi_wasm.start_wasi() as fs:
        assert fs.run(tool, ["args"]).exit_code == 0
    forget()
    result = wasi_wasm.run_pipeline([(tool, ["lines", "3"]), (tool, ["cat"])])
    assert result.stdout == b"line 0\nline 1\nline 2\n"
    forget()
    assert wasi_wasm.run(tool.read_bytes(), ["args"]).exit_code == 0  # same bytes: same entry
    assert cache.compiled == [str(tool)]
    assert len(cache.entries()) == 1


def test_a_big_program_loads_much_faster_than_it_compiles(cache: Cache) -> None:
    wasm = big_program(1500)
    started = time.perf_counter()
    assert wasi_wasm.run(wasm).exit_code == 0
    first = time.perf_counter() - started
    forget()
    started = time.perf_counter()
    assert wasi_wasm.run(wasm).exit_code == 0
    second = time.perf_counter() - started
    assert cache.compiled == ["program.wasm"]
    assert second < first / 2, (first, second)


def test_a_second_process_does_not_compile(cache: Cache, tool: Path) -> None:
    """Two processes in turn: the first compiles and writes the entry, the second only loads."""
    script = textwrap.dedent(
        """
        import sys
        from wasi_wasm import _engine, run
        compiled = []
        real = _engine._compile
        _engine._compile = lambda *a: compiled.append(a[2]) or real(*a)
        assert run(sys.argv[1], ["args"]).exit_code == 0
        print([name for name in compiled if name is not None])  # None: the core
        """
    )
    env = {**cli_env(), "WASI_WASM_CACHE_DIR": str(cache.directory)}
    counts = [
        subprocess.run(
            [sys.executable, "-c", script, str(tool)], env=env, capture_output=True, check=True
        ).stdout
        for _ in range(2)
    ]
    assert counts == [f"[{str(tool)!r}]\n".encode(), b"[]\n"]


# -- what the key holds -------------------------------------------------------------------------
def test_a_changed_module_misses(cache: Cache, tmp_path: Path) -> None:
    path = tmp_path / "prog.wasm"
    path.write_bytes(big_program(3))
    assert wasi_wasm.run(path).exit_code == 0
    forget()
    path.write_bytes(big_program(3, tag=1))  # the same file, rewritten with another module
    assert wasi_wasm.run(path).exit_code == 0
    assert cache.compiled == [str(path), str(path)]
    assert len(cache.entries()) == 2
    forget()
    path.write_bytes(big_program(3))  # back to the first: still cached
    assert wasi_wasm.run(path).exit_code == 0
    assert len(cache.compiled) == 2


def test_another_wasmtime_or_engine_setting_misses(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    wasm = big_program(2)
    wasi_wasm.run(wasm)
    forget()
    monkeypatch.setattr(_engine, "_wasmtime_version", lambda: "0.0.0-other")
    wasi_wasm.run(wasm)
    forget()
    monkeypatch.setattr(_engine, "ENGINE_FEATURES", _engine.ENGINE_FEATURES + "+other")
    wasi_wasm.run(wasm)
    assert len(cache.compiled) == 3
    assert len(cache.entries()) == 3


def test_the_key_names_wasmtime_and_the_engine_settings() -> None:
    assert _engine.ENGINE_FEATURES.split("+") == [
        "threads", "shared_memory", "multi_memory", "memory64", "epoch_interruption"
    ]  # fmt: skip
    for attribute, _name in _engine._ENGINE_SETTINGS:  # a misspelt one would be ignored
        assert isinstance(getattr(wasmtime.Config, attribute), property), attribute


# -- damaged entries ----------------------------------------------------------------------------
def _damage(kind: str, entry: Path, other: Path) -> None:
    data = entry.read_bytes()
    if kind == "truncated":
        entry.write_bytes(data[: len(data) // 2])
    elif kind == "footer cut":
        entry.write_bytes(data[:-1])
    elif kind == "empty":
        entry.write_bytes(b"")
    elif kind == "zeros":  # what a crash before the data reached the disk can leave
        entry.write_bytes(bytes(len(data)))
    elif kind == "garbage":
        entry.write_bytes(b"not a module" * 1000)
    elif kind == "header":  # the footer is right, wasmtime's own header is not
        entry.write_bytes(b"\x7fELF" + bytes(60) + data[64:])
    elif kind == "another entry":  # a whole, valid entry for another module, under this name
        entry.write_bytes(other.read_bytes())
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["truncated", "footer cut", "empty", "zeros", "garbage", "header", "another entry"]
)
def test_a_damaged_entry_is_compiled_again_and_replaced(cache: Cache, kind: str) -> None:
    wasm, other = big_program(4), big_program(4, tag=9)
    _engine.compile_cached(other)
    other_entry = _engine._cache_file(other)
    assert wasi_wasm.run(wasm).exit_code == 0
    entry = _engine._cache_file(wasm)
    good = entry.read_bytes()
    _damage(kind, entry, other_entry)
    forget()
    assert wasi_wasm.run(wasm).exit_code == 0
    assert cache.compiled == [None, "program.wasm", "program.wasm"]
    assert entry.read_bytes()[-48:] == good[-48:]  # rewritten whole
    forget()
    assert wasi_wasm.run(wasm).exit_code == 0
    assert len(cache.compiled) == 3


def test_a_large_entry_is_mapped_and_checked_the_same_way(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_engine, "_MAP_ABOVE_BYTES", 0)  # every entry is "large"
    wasm = big_program(5)
    assert wasi_wasm.run(wasm).exit_code == 0
    forget()
    assert wasi_wasm.run(wasm).exit_code == 0
    assert len(cache.compiled) == 1
    forget()  # drop the mapped module before its file is cut short (a mapping cannot shrink)
    entry = _engine._cache_file(wasm)
    entry.write_bytes(entry.read_bytes()[:-100])
    assert wasi_wasm.run(wasm).exit_code == 0
    assert len(cache.compiled) == 2


def test_an_unwritable_cache_costs_only_the_compile(
    cache: Cache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("WASI_WASM_CACHE_DIR", str(blocker / "cache"))
    wasm = big_program(2)
    assert wasi_wasm.run(wasm).exit_code == 0
    forget()
    assert wasi_wasm.run(wasm).exit_code == 0
    assert len(cache.compiled) == 2


def test_an_invalid_module_is_never_cached(cache: Cache) -> None:
    bad = b"\0asm\x01\0\0\0\x01\x04\x01\x60\x00"  # a truncated type section
    for _ in range(2):
        with pytest.raises(wasi_wasm.ProgramError, match="invalid WebAssembly module"):
            wasi_wasm.run(bad)
    assert cache.entries() == []


# -- concurrent processes -----------------------------------------------------------------------
CONCURRENT = textwrap.dedent(
    """
    import sys
    from wasi_wasm import _engine, run
    wasms = [open(path, "rb").read() for path in sys.argv[1:]]
    for round in range(6):
        for wasm in wasms:
            assert run(wasm).exit_code == 0
            _engine._modules.clear()  # the next round comes from the disk cache again
    print("ok")
    """
)


@pytest.mark.parametrize("roomy", [True, False], ids=["roomy", "evicting"])
def test_concurrent_processes_share_the_cache(cache: Cache, tmp_path: Path, roomy: bool) -> None:
    """Four processes load and store the same entries at once, without errors; with a cap of
    about two entries, stores evict what the other processes are about to load."""
    programs = []
    for tag in range(3):
        path = tmp_path / f"p{tag}.wasm"
        path.write_bytes(big_program(200, tag))
        programs.append(str(path))
    _engine.compile_cached(Path(programs[0]).read_bytes())
    size = _engine._cache_file(Path(programs[0]).read_bytes()).stat().st_size
    cap = 512 << 20 if roomy else size * 2
    env = {**cli_env(), "WASI_WASM_CACHE_DIR": str(cache.directory),
           "WASI_WASM_CACHE_MAX_BYTES": str(cap)}  # fmt: skip
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, *programs],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert (process.returncode, out, err) == (0, b"ok\n", b"")
    assert not [p for p in cache.directory.iterdir() if p.name.endswith(".tmp")]
    if roomy:
        assert len(cache.entries()) == 4  # the three programs and the core
    else:
        assert sum(entry.stat().st_size for entry in cache.entries()) <= cap


# -- the size cap -------------------------------------------------------------------------------
def _age(entry: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(entry, (past, past))


def test_the_cap_evicts_the_least_recently_used(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = (big_program(50, tag) for tag in range(3))
    _engine.compile_cached(a)
    size = _engine._cache_file(a).stat().st_size
    monkeypatch.setenv("WASI_WASM_CACHE_MAX_BYTES", str(int(size * 2.5)))  # room for two
    _engine.compile_cached(b)
    _age(_engine._cache_file(a), 300)
    _age(_engine._cache_file(b), 200)
    forget()
    _engine.compile_cached(a)  # a hit: `a` is now the most recently used
    forget()
    _engine.compile_cached(c)  # over the cap: the least recently used (b) goes
    assert {p.name for p in cache.entries()} == {
        _engine._cache_file(a).name,
        _engine._cache_file(c).name,
    }
    assert len(cache.compiled) == 3


def test_an_entry_larger_than_the_cap_is_not_kept(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WASI_WASM_CACHE_MAX_BYTES", "1K")
    assert wasi_wasm.run(big_program(10)).exit_code == 0
    assert cache.entries() == []


def test_stale_temporary_files_are_removed(cache: Cache) -> None:
    cache.directory.mkdir(parents=True)
    stale = cache.directory / ".module-0123.cwasm.abc.tmp"  # left by a killed process
    fresh = cache.directory / ".module-4567.cwasm.def.tmp"  # being written right now
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    _age(stale, 2 * 3600)
    _engine.compile_cached(big_program(2))
    assert not stale.exists()
    assert fresh.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 512 << 20), ("1000", 1000), ("64K", 64 << 10), ("256M", 256 << 20),
     ("2GiB", 2 << 30), ("1 g", 1 << 30), ("0", 0), ("lots", 512 << 20), ("-5", 512 << 20)],
)  # fmt: skip
def test_the_cap_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: int
) -> None:
    monkeypatch.setenv("WASI_WASM_CACHE_MAX_BYTES", text)
    assert _engine.cache_max_bytes() == expected


# -- turning it off -----------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "enabled"), [("1", False), ("yes", False), ("0", True)])
def test_the_environment_variable_turns_it_off(
    cache: Cache, monkeypatch: pytest.MonkeyPatch, tool: Path, value: str, enabled: bool
) -> None:
    monkeypatch.setenv("WASI_WASM_NO_CACHE", value)
    for _ in range(2):
        assert wasi_wasm.run(tool, ["args"]).exit_code == 0
        forget()
    assert len(cache.compiled) == (1 if enabled else 2)
    assert bool(cache.entries()) is enabled


@pytest.mark.parametrize("how", ["--no-cache", "WASI_WASM_NO_CACHE=1"])
def test_the_cli_writes_nothing_without_the_cache(tmp_path: Path, tool: Path, how: str) -> None:
    directory = tmp_path / "cache"
    env = {**cli_env(), "WASI_WASM_CACHE_DIR": str(directory)}
    flags = []
    if how == "--no-cache":
        flags.append(how)
    else:
        env["WASI_WASM_NO_CACHE"] = "1"
    for command in (["run", *flags, str(tool), "args"],
                    ["pipe", *flags, str(tool), "args", "|", str(tool), "cat"]):  # fmt: skip
        result = subprocess.run(
            [sys.executable, "-m", "wasi_wasm", *command], env=env, capture_output=True,
            check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(b"argc=2\n")
    assert not directory.exists()
    result = subprocess.run(
        [sys.executable, "-m", "wasi_wasm", "run", str(tool), "args"],
        env={**env, "WASI_WASM_NO_CACHE": ""}, capture_output=True, check=True,
    )  # fmt: skip
    assert len(list(directory.glob(ENTRY_GLOB))) == 2  # the program and the core


def test_no_cache_lasts_only_for_its_cli_call(cache: Cache, tool: Path) -> None:
    assert cli.main(["run", "--no-cache", str(tool), "args"]) == 0
    assert cache.entries() == []
    assert _engine.disk_cache_enabled()
    forget()
    assert cli.main(["run", str(tool), "args"]) == 0
    assert len(cache.entries()) == 1


# -- the compile notice -------------------------------------------------------------------------
def test_the_cli_announces_a_slow_compile_once(
    cache: Cache, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:  # fmt: skip
    monkeypatch.setattr(_engine, "SLOW_COMPILE_SECONDS", 0.02)  # compiling takes ~0.3 s
    program = tmp_path / "big.wasm"
    program.write_bytes(big_program(1200))
    assert cli.main(["run", str(program)]) == 0
    first = capsys.readouterr().err
    assert first == f"wasi-wasm: compiling {program} (first run only)\u2026\n"
    forget()
    assert cli.main(["run", str(program)]) == 0  # from the cache: nothing to announce
    assert capsys.readouterr().err == ""
    forget()
    assert cli.main(["run", "--no-cache", str(program)]) == 0
    assert capsys.readouterr().err == f"wasi-wasm: compiling {program}\u2026\n"


def test_a_fast_compile_is_not_announced(
    cache: Cache, capsys: pytest.CaptureFixture[str], tool: Path
) -> None:
    assert cli.main(["pipe", str(tool), "args", "|", str(tool), "cat"]) == 0
    assert capsys.readouterr().err == ""
    assert cache.compiled == [str(tool)]


def test_the_python_api_stays_silent_and_logs(
    cache: Cache, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    monkeypatch.setattr(_engine, "SLOW_COMPILE_SECONDS", 0.02)
    with caplog.at_level(logging.INFO, logger="wasi_wasm"):
        assert wasi_wasm.run(big_program(1200)).exit_code == 0
    assert capfd.readouterr() == ("", "")
    assert [r.getMessage().split(" in ")[0] for r in caplog.records] == ["compiled program.wasm"]
