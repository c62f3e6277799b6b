"""The Python API: get_wasi/start_wasi, import wiring, run(), stdio, processes and threads."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

import wasi_wasm
from wasi_wasm import WASI_FUNCTIONS, ProgramError, WasiExit, _engine, get_wasi, run, start_wasi

BOTH_PATHS = pytest.mark.parametrize("bridge", [True, False], ids=["bridge", "fallback"])


@pytest.fixture(scope="module")
def tool(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("api_tool")


def _instantiate(wasi: wasi_wasm.Wasi, wasm: bytes | Path) -> wasmtime.Instance:
    data = wasm.read_bytes() if isinstance(wasm, Path) else wasm
    module = wasmtime.Module(wasi.engine, data)
    return wasmtime.Instance(wasi.store, module, wasi.imports_for(module))


# -- get_wasi and the module cache --------------------------------------------------------------
def test_get_wasi_compiles_once() -> None:
    first, second = get_wasi(), get_wasi()
    assert first.module is second.module
    assert first.engine is second.engine is _engine.get_engine()
    assert first.memory is None  # a memory exists only once a Wasi starts


def test_disk_cache_is_written_then_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASI_WASM_CACHE_DIR", str(tmp_path / "cache"))
    wasm = bytes(wasmtime.wat2wasm('(module (func (export "answer") (result i32) i32.const 42))'))
    monkeypatch.setattr(_engine, "_modules", {})
    _engine.compile_cached(wasm)
    cached = list((tmp_path / "cache").glob("*.cwasm"))
    assert len(cached) == 1

    loaded: list[bytes] = []
    real_deserialize = wasmtime.Module.deserialize

    def spy(engine: wasmtime.Engine, data: bytes) -> wasmtime.Module:
        loaded.append(data)
        return real_deserialize(engine, data)

    monkeypatch.setattr(_engine, "_modules", {})
    monkeypatch.setattr(wasmtime.Module, "deserialize", spy)
    module = _engine.compile_cached(wasm)
    assert loaded == [cached[0].read_bytes()]
    store = _engine.new_store()  # the engine interrupts stores without a deadline
    answer = wasmtime.Instance(store, module, []).exports(store)["answer"]
    assert isinstance(answer, wasmtime.Func)
    assert answer(store) == 42


def test_unusable_disk_cache_falls_back_silently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("WASI_WASM_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(_engine, "_modules", {})
    wasm = bytes(wasmtime.wat2wasm("(module)"))
    assert isinstance(_engine.compile_cached(wasm), wasmtime.Module)
    # A corrupt cache entry is ignored and replaced.
    monkeypatch.setenv("WASI_WASM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_engine, "_modules", {})
    path = _engine._cache_file(wasm)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    assert isinstance(_engine.compile_cached(wasm), wasmtime.Module)
    assert path.read_bytes() != b"garbage"


# -- wiring a guest -----------------------------------------------------------------------------
def test_import_obj_has_every_wasi_function_and_nothing_else() -> None:
    with start_wasi() as wasi:
        functions = wasi.import_obj["wasi_snapshot_preview1"]
        assert set(functions) == set(WASI_FUNCTIONS)
        assert len(WASI_FUNCTIONS) == 46
        assert all(isinstance(f, wasmtime.Func) for f in functions.values())
        assert list(wasi.import_obj) == ["wasi_snapshot_preview1"]


def test_imports_for_follows_the_module_import_order(tool: Path) -> None:
    with start_wasi(args=["tool", "args", "x"]) as wasi:
        module = wasmtime.Module(wasi.engine, tool.read_bytes())
        values = wasi.imports_for(module)
        functions = wasi.import_obj["wasi_snapshot_preview1"]
        assert [functions[item.name or ""] for item in module.imports] == values
        instance = wasmtime.Instance(wasi.store, module, values)
        assert wasi.start(instance) == 0
        assert wasi.stdout == b"argc=3\nargv[0]=tool\nargv[1]=args\nargv[2]=x\n"


def test_define_fills_a_linker(tool: Path) -> None:
    with start_wasi(args=["tool", "getenv", "HOME"], env={"HOME": "/home/me"}) as wasi:
        linker = wasmtime.Linker(wasi.engine)
        wasi.define(linker)
        instance = linker.instantiate(wasi.store, wasmtime.Module(wasi.engine, tool.read_bytes()))
        assert wasi.start(instance) == 0
        assert wasi.stdout == b"/home/me\n"


def test_imports_for_rejects_imports_it_cannot_provide() -> None:
    wat = '(module (import "env" "foo" (func)) (memory (export "memory") 1))'
    with start_wasi() as wasi:
        module = wasmtime.Module(wasi.engine, bytes(wasmtime.wat2wasm(wat)))
        with pytest.raises(LookupError, match=r"env\.foo"):
            wasi.imports_for(module)


def test_start_needs_memory_and_start_exports() -> None:
    no_start = '(module (memory (export "memory") 1))'
    no_memory = '(module (func (export "_start")))'
    with start_wasi() as wasi:
        with pytest.raises(ValueError, match="_start"):
            wasi.start(_instantiate(wasi, bytes(wasmtime.wat2wasm(no_start))))
        with pytest.raises(ValueError, match="memory"):
            wasi.start(_instantiate(wasi, bytes(wasmtime.wat2wasm(no_memory))))


# -- run(): args, env, stdin, exit codes ---------------------------------------------------------
def test_run_passes_args_with_the_file_name_as_argv0(tool: Path) -> None:
    result = run(tool, ["args", "two words", ""])
    assert result == wasi_wasm.RunResult(
        0, f"argc=4\nargv[0]={tool.name}\nargv[1]=args\nargv[2]=two words\nargv[3]=\n".encode(), b""
    )


def test_run_bytes_program_is_named_program_wasm(tool: Path) -> None:
    result = run(tool.read_bytes(), ["args"])
    assert result.stdout == b"argc=2\nargv[0]=program.wasm\nargv[1]=args\n"


def test_run_passes_env_exactly(tool: Path) -> None:
    assert run(tool, ["env"]).stdout == b""
    env = {"A": "1", "EMPTY": "", "WITH_EQUALS": "x=y", "UNICODE": "é"}
    result = run(tool, ["env"], env=env)
    assert result.stdout.decode().splitlines() == [f"{k}={v}" for k, v in env.items()]


@pytest.mark.parametrize(
    ("args", "code", "stdout"),
    [
        (["return", "0"], 0, b""),
        (["return", "3"], 3, b""),
        (["exit", "0"], 0, b"exiting\n"),
        (["exit", "42"], 42, b"exiting\n"),
        (["exit", "255"], 255, b"exiting\n"),
    ],
)
def test_exit_codes(tool: Path, args: list[str], code: int, stdout: bytes) -> None:
    result = run(tool, args)
    assert (result.exit_code, result.stdout) == (code, stdout)


def test_unknown_command_exit_code_and_stderr(tool: Path) -> None:
    assert run(tool, ["nope"]) == wasi_wasm.RunResult(2, b"", b"api_tool: unknown command nope\n")


def test_stdin_bytes_and_default_eof(tool: Path) -> None:
    assert run(tool, ["cat"]).stdout == b""
    data = bytes(range(256)) * 1000
    assert run(tool, ["cat"], stdin=data).stdout == data


def test_stdin_from_a_binary_stream(tool: Path) -> None:
    data = os.urandom(200_000)
    assert run(tool, ["cat"], stdin=io.BytesIO(data)).stdout == data


def test_stdin_stream_error_reads_as_eio(tool: Path) -> None:
    class Broken(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise OSError("device gone")

    assert run(tool, ["cat"], stdin=Broken()).exit_code == 1


def test_large_stdout_is_exact(tool: Path) -> None:
    size = 3 * 1024 * 1024 + 17
    result = run(tool, ["bytes", str(size)])
    assert result.stdout == bytes(i % 251 for i in range(size))


def test_stdout_and_stderr_are_separate(tool: Path) -> None:
    result = run(tool, ["mixed"])
    assert result.stdout == b"out 0\nout 1\nout 2\n"
    assert result.stderr == b"err 0\nerr 1\nerr 2\n"


def test_clocks_and_random(tool: Path) -> None:
    assert run(tool, ["clocks"]).stdout.decode().splitlines() == [
        "realtime after 2020: yes",
        "monotonic non-decreasing: yes",
        "process cputime: 0",
        "thread cputime: 0",
        "bad clock: 28",
        "res realtime: 0",
        "res positive: yes",
        "res bad clock: 28",
    ]
    first, second = run(tool, ["random"]).stdout.split()
    assert len(first) == len(second) == 32
    assert first != second


# -- streaming -----------------------------------------------------------------------------------
def test_streaming_callbacks_get_one_chunk_per_line(tool: Path) -> None:
    chunks: list[bytes] = []
    errors: list[bytes] = []
    result = run(tool, ["mixed"], stdout=chunks.append, stderr=errors.append)
    assert chunks == [b"out 0\n", b"out 1\n", b"out 2\n"]
    assert errors == [b"err 0\n", b"err 1\n", b"err 2\n"]
    assert (result.stdout, result.stderr) == (b"", b"")


def test_threshold_mode_delivers_short_output_at_exit(tool: Path) -> None:
    chunks: list[bytes] = []
    with start_wasi(args=["tool", "lines", "3"], stdout=chunks.append) as wasi:
        assert wasi.start(_instantiate(wasi, tool)) == 0
    assert chunks == [b"line 0\nline 1\nline 2\n"]


def test_stdout_to_a_binary_file(tool: Path) -> None:
    out = io.BytesIO()
    assert run(tool, ["lines", "1000"], stdout=out).exit_code == 0
    assert out.getvalue() == b"".join(b"line %d\n" % i for i in range(1000))


def test_callback_error_is_raised_after_the_program_and_fs_stays_usable(tool: Path) -> None:
    def explode(_data: bytes) -> None:
        raise RuntimeError("sink failed")

    with start_wasi() as wasi:
        with pytest.raises(RuntimeError, match="sink failed"):
            wasi.run(tool, ["lines", "5"], stdout=explode)
        with pytest.raises(RuntimeError, match="sink failed"):
            wasi.run(tool, ["stderr", "oops"], stderr=explode)
        # The core's lock was not left held: the filesystem keeps working.
        assert wasi.run(tool, ["write", "/f", "still written"]).exit_code == 0
        assert wasi.read_file("/f") == b"still written"
        assert wasi.run(tool, ["read", "/f"]).stdout == b"still written"


def test_trap_propagates_and_output_before_it_is_delivered(tool: Path) -> None:
    chunks: list[bytes] = []
    with pytest.raises(wasmtime.Trap, match="unreachable"):
        run(tool, ["trap"], stdout=chunks.append)
    assert chunks == [b"before trap\n"]


# -- both copy paths ------------------------------------------------------------------------------
@BOTH_PATHS
def test_copy_path_is_chosen_and_works(tool: Path, bridge: bool) -> None:
    with start_wasi(args=["tool", "cat"], stdin=b"through the copy hooks", bridge=bridge) as wasi:
        assert wasi.start(_instantiate(wasi, tool)) == 0
        assert wasi.uses_bridge is bridge
        assert wasi.stdout == b"through the copy hooks"


def test_default_copy_path_is_the_bridge(tool: Path) -> None:
    with start_wasi(args=["tool", "return", "0"]) as wasi:
        wasi.start(_instantiate(wasi, tool))
        assert wasi.uses_bridge is True


@BOTH_PATHS
def test_files_round_trip_through_programs(tool: Path, bridge: bool) -> None:
    with start_wasi(bridge=bridge) as wasi:
        payload = "x" * 100_000
        assert wasi.run(tool, ["write", "/big.txt", payload]).exit_code == 0
        assert wasi.run(tool, ["append", "/big.txt", "END"]).exit_code == 0
        assert wasi.run(tool, ["read", "/big.txt"]).stdout == (payload + "END").encode()
        assert wasi.read_file("/big.txt") == (payload + "END").encode()


GROWING_GUEST = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1 MAX)
  (data (i32.const 16) "hello from wat\\n")
  (func (export "_start")
    ;; a pointer past the current memory: the core answers EFAULT (21) without trapping
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 15))
    (if (i32.ne (call $fd_write (i32.const 1) (i32.const 327680) (i32.const 1) (i32.const 8))
                (i32.const 21))
      (then (call $proc_exit (i32.const 99))))
    ;; grow (a non-shared memory may move), then write from the new pages
    (drop (memory.grow (i32.const 10)))
    (memory.copy (i32.const 327696) (i32.const 16) (i32.const 15))
    (i32.store (i32.const 327680) (i32.const 327696))
    (i32.store (i32.const 327684) (i32.const 15))
    (call $proc_exit
      (i32.add (i32.const 40)
        (call $fd_write (i32.const 1) (i32.const 327680) (i32.const 1) (i32.const 327688))))))
"""


@BOTH_PATHS
@pytest.mark.parametrize("memory", ["plain", "shared"])
def test_guest_memory_kinds_and_growth(bridge: bool, memory: str) -> None:
    limits = "20 shared" if memory == "shared" else ""
    wasm = bytes(wasmtime.wat2wasm(GROWING_GUEST.replace("MAX", limits)))
    with start_wasi(bridge=bridge) as wasi:
        instance = _instantiate(wasi, wasm)
        exported = instance.exports(wasi.store)["memory"]
        assert isinstance(exported, wasmtime.SharedMemory) == (memory == "shared")
        assert wasi.start(instance) == 40
        assert wasi.stdout == b"hello from wat\n"
        assert wasi.uses_bridge is bridge


def test_bind_to_other_memory_explicitly() -> None:
    """A host can bind a memory itself and call WASI functions from Python."""
    with start_wasi(stdout=None) as wasi:
        memory = wasmtime.Memory(wasi.store, wasmtime.MemoryType(wasmtime.Limits(1, None)))
        wasi.bind_to_other_memory(memory, bridge=False)
        assert wasi.uses_bridge is False
        memory.write(wasi.store, b"via python\n", 100)
        memory.write(wasi.store, (100).to_bytes(4, "little") + (11).to_bytes(4, "little"), 0)
        fd_write = wasi.import_obj["wasi_snapshot_preview1"]["fd_write"]
        assert fd_write(wasi.store, 1, 0, 1, 8) == 0
        assert memory.read(wasi.store, 8, 12) == (11).to_bytes(4, "little")
        wasi.flush()
        assert wasi.stdout == b"via python\n"


# -- processes on one filesystem ------------------------------------------------------------------
def test_copy_for_rebinding_shares_files_not_fds(tool: Path) -> None:
    with start_wasi() as wasi:
        writer = wasi.copy_for_rebinding(args=["w", "write", "/shared.txt", "from writer"])
        reader = wasi.copy_for_rebinding(args=["r", "read", "/shared.txt"], env={"WHO": "r"})
        with writer, reader:
            assert writer.store is reader.store is wasi.store
            assert writer.start(_instantiate(writer, tool)) == 0
            assert reader.start(_instantiate(reader, tool)) == 0
            assert reader.stdout == b"from writer"
            assert writer.stdout == b""
        assert wasi.read_file("/shared.txt") == b"from writer"


def test_closing_one_process_leaves_the_others_working(tool: Path) -> None:
    with start_wasi() as wasi:
        first = wasi.copy_for_rebinding(args=["a", "write", "/a", "1"])
        second = wasi.copy_for_rebinding(args=["b", "read", "/a"])
        assert first.start(_instantiate(first, tool)) == 0
        first.close()
        assert second.start(_instantiate(second, tool)) == 0
        assert second.stdout == b"1"
        second.close()
        assert wasi.exists("/a")


def test_run_with_wasi_uses_that_filesystem(tool: Path) -> None:
    with start_wasi() as wasi:
        wasi.write_file("/in.txt", b"seeded by the host")
        assert run(tool, ["read", "/in.txt"], wasi=wasi).stdout == b"seeded by the host"
        assert wasi.run(tool, ["write", "/out.txt", "ok"]).exit_code == 0
        assert wasi.read_file("/out.txt") == b"ok"
    # Without wasi=, every run gets a fresh filesystem.
    assert run(tool, ["read", "/in.txt"]).exit_code == 1


def test_preopens_map_guest_names_to_created_vfs_dirs(tool: Path) -> None:
    with start_wasi() as wasi:
        result = wasi.run(tool, ["preopens"], preopens={"/sandbox": "/data/x", "tmp": "/tmp"})
        assert result.stdout == b"3 /sandbox\n4 tmp\n"
        assert wasi.is_dir("/data/x") and wasi.is_dir("/tmp")
        assert wasi.run(tool, ["write", "/sandbox/f", "boxed"], preopens={"/sandbox": "/data/x"})
        assert wasi.read_file("/data/x/f") == b"boxed"
        assert wasi.run(tool, ["preopens"], preopens={}).stdout == b""


def test_init_obj_shares_the_filesystem_with_another_thread(tool: Path) -> None:
    with start_wasi() as wasi:
        wasi.write_file("/from-main", b"main")
        init = wasi.init_obj()
        assert init.memory is wasi.memory
        seen: dict[str, object] = {}

        def worker() -> None:
            with start_wasi(init) as other:
                seen["store"] = other.store
                seen["main file"] = other.read_file("/from-main")
                seen["run"] = other.run(tool, ["write", "/from-thread", "thread"]).exit_code

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        assert seen["main file"] == b"main"
        assert seen["run"] == 0
        assert seen["store"] is not wasi.store
        assert wasi.read_file("/from-thread") == b"thread"


def test_pickled_init_obj_gives_a_fresh_filesystem(tool: Path) -> None:
    with start_wasi() as wasi:
        wasi.write_file("/secret", b"stays here")
        data = pickle.dumps(wasi.init_obj())
    assert len(data) < 10_000_000
    restored = pickle.loads(data)
    assert isinstance(restored, wasi_wasm.InitObj)
    assert restored.memory is None
    with start_wasi(restored) as fresh:
        assert not fresh.exists("/secret")
        assert fresh.listdir("/") == []
    script = (
        "import pickle, sys, wasi_wasm\n"
        "init = pickle.loads(sys.stdin.buffer.read())\n"
        "with wasi_wasm.start_wasi(init) as w:\n"
        "    print(w.listdir('/'), w.run(sys.argv[1], ['args']).stdout.decode().split()[0])\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", script, str(tool)], input=data, capture_output=True, check=True
    )
    assert child.stdout == b"[] argc=2\n"


# -- lifetime --------------------------------------------------------------------------------------
def test_closed_wasi_refuses_to_work(tool: Path) -> None:
    wasi = start_wasi()
    instance = _instantiate(wasi, tool)
    wasi.close()
    wasi.close()  # idempotent
    assert wasi.closed
    for use in (
        lambda: wasi.read_file("/x"),
        lambda: wasi.start(instance),
        wasi.copy_for_rebinding,
        wasi.init_obj,
        lambda: wasi.run(tool, ["args"]),
        wasi.__enter__,
    ):
        with pytest.raises(ValueError, match="closed"):
            use()


def test_context_manager_closes(tool: Path) -> None:
    with start_wasi() as wasi:
        assert not wasi.closed
    assert wasi.closed


def test_many_processes_do_not_grow_the_allocator(tool: Path) -> None:
    with start_wasi() as wasi:
        wasi.run(tool, ["args"])
        before = wasi.used_bytes()
        assert before > 0
        for _ in range(30):
            assert wasi.run(tool, ["exit", "1"]).exit_code == 1
            with pytest.raises(wasmtime.Trap):
                wasi.run(tool, ["trap"])
        assert wasi.used_bytes() == before


def test_fsck_reports_a_healthy_filesystem(tool: Path) -> None:
    with start_wasi() as wasi:
        wasi.mkdir("/d/e", parents=True)
        wasi.write_file("/d/e/f", b"x" * 100_000)
        wasi.symlink("f", "/d/e/g")
        assert wasi.run(tool, ["write", "/d/h", "y"]).exit_code == 0
        wasi.rmtree("/d/e")
        assert wasi.fsck() == 0


def test_threads_exiting_at_once_each_get_their_own_code(tool: Path) -> None:
    with start_wasi() as wasi:
        init = wasi.init_obj()
        failures: list[str] = []

        def worker(code: int) -> None:
            with start_wasi(init) as mine:
                for _ in range(15):
                    got = mine.run(tool, ["exit", str(code)]).exit_code
                    if got != code:
                        failures.append(f"thread {code} got {got}")

        threads = [threading.Thread(target=worker, args=(code,)) for code in (11, 22, 33, 44)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []


def test_wasi_exit_carries_the_code() -> None:
    error = WasiExit(7)
    assert error.code == 7
    assert "7" in str(error)


# -- bad programs ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("program", "message"),
    [
        (b"not wasm at all", "bad magic"),
        (b"\0asm\x0d\0\x01\0", "component"),
        (b"\0asm\x01\0\0\0\xff", "invalid WebAssembly module"),
        (bytes(wasmtime.wat2wasm('(module (import "env" "f" (func)))')), r"env\.f"),
        (
            bytes(wasmtime.wat2wasm('(module (import "wasi_snapshot_preview1" "nope" (func)))')),
            "unknown WASI function nope",
        ),
        (bytes(wasmtime.wat2wasm('(module (memory (export "memory") 1))')), "_start"),
        (bytes(wasmtime.wat2wasm('(module (func (export "_start")))')), "memory"),
    ],
)
def test_bad_programs_raise_program_error(program: bytes, message: str) -> None:
    with pytest.raises(ProgramError, match=message):
        run(program)


def test_missing_program_file_raises_program_error(tmp_path: Path) -> None:
    with pytest.raises(ProgramError, match="cannot read"):
        run(tmp_path / "missing.wasm")


def test_text_streams_are_used_through_their_binary_buffer(tool: Path) -> None:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    out.write("printed first\n")
    source = io.TextIOWrapper(io.BytesIO(b"from a text stream"), encoding="utf-8")
    assert run(tool, ["cat"], stdin=source, stdout=out).exit_code == 0
    out.flush()
    assert isinstance(out.buffer, io.BytesIO)
    assert out.buffer.getvalue() == b"printed first\nfrom a text stream"


def test_args_must_not_be_a_single_string(tool: Path) -> None:
    with pytest.raises(TypeError, match="sequence"):
        run(tool, "args")
    with pytest.raises(TypeError, match="sequence"):
        start_wasi(args="prog")
