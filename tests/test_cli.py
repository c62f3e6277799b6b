"""The command line, run as a user would: `python -m wasi_wasm ...` in a subprocess."""

from __future__ import annotations

import importlib.resources
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

from cli_run import assert_usage_error, cli, cli_env

MEMORY_IMPORT = '(module (import "wasi_snapshot_preview1" "memory" (memory 1)))'


@pytest.fixture(scope="module")
def tool(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("api_tool")


# -- running programs ---------------------------------------------------------------------------
def test_run_prints_output_with_program_name_as_argv0(tool: Path) -> None:
    result = cli("run", tool, "--", "args", "one", "two words")
    assert result.returncode == 0
    expected = f"argc=4\nargv[0]={tool.name}\nargv[1]=args\nargv[2]=one\nargv[3]=two words\n"
    assert result.stdout == expected.encode()
    assert result.stderr == b""


def test_arguments_after_the_program_reach_it_even_without_double_dash(tool: Path) -> None:
    result = cli("run", tool, "args", "--flag", "--", "x")
    assert result.stdout.decode().splitlines()[3:] == ["argv[2]=--flag", "argv[3]=--", "argv[4]=x"]


@pytest.mark.parametrize(
    ("args", "code"),
    [(["exit", "9"], 9), (["return", "3"], 3), (["return", "0"], 0), (["exit", "200"], 200)],
)
def test_exit_code_passthrough(tool: Path, args: list[str], code: int) -> None:
    assert cli("run", tool, "--", *args).returncode == code


def test_stderr_is_passed_through(tool: Path) -> None:
    result = cli("run", tool, "--", "mixed")
    assert result.stdout == b"out 0\nout 1\nout 2\n"
    assert result.stderr == b"err 0\nerr 1\nerr 2\n"


def test_env_options(tool: Path) -> None:
    result = cli("run", "--env", "A=1", "--env", "B=x=y", "--env", "E=", tool, "--", "env")
    assert result.stdout == b"A=1\nB=x=y\nE=\n"
    # The host's environment is not leaked into the program.
    assert cli("run", tool, "--", "env").stdout == b""


def test_stdin_from_file_and_from_pipe(tool: Path, tmp_path: Path) -> None:
    data = os.urandom(70_000)
    (tmp_path / "input.bin").write_bytes(data)
    assert cli("run", "--stdin", tmp_path / "input.bin", tool, "--", "cat").stdout == data
    assert cli("run", "--stdin", "-", tool, "--", "cat", stdin=b"piped\n").stdout == b"piped\n"
    # Without --stdin the program reads ours, as under wasmtime run; /dev/null for none.
    assert cli("run", tool, "--", "cat", stdin=b"inherited").stdout == b"inherited"
    assert cli("run", "--stdin", "/dev/null", tool, "--", "cat", stdin=b"x").stdout == b""


def test_env_name_alone_passes_ours_and_argv0_names_the_program(tool: Path) -> None:
    """As wasmtime run: --env NAME passes this process's value (nothing if unset), and
    --argv0 sets argv[0]."""
    env = {**cli_env(), "WASI_WASM_TEST_VALUE": "from the host"}
    result = cli("run", "--env", "WASI_WASM_TEST_VALUE", "--env", "UNSET_HERE_XYZ",
                 "--env", "K=v", tool, "--", "env", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.decode().splitlines()) == [
        "K=v", "WASI_WASM_TEST_VALUE=from the host"
    ]  # fmt: skip
    named = cli("run", "--argv0", "custom-name", tool, "--", "args")
    assert named.stdout.splitlines()[1] == b"argv[0]=custom-name", named.stderr


def test_output_is_streamed_while_the_program_runs(tool: Path) -> None:
    """The program waits for a line on stdin after printing "ready": the test answers only
    once it has seen "ready", so this finishes only if output arrives while it runs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "wasi_wasm", "run", "--stdin", "-", str(tool), "--", "prompt"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(),
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    try:
        assert process.stdout.readline() == b"ready\n"
        process.stdin.write(b"hello\n")
        process.stdin.close()
        assert process.stdout.read() == b"got hello\n"
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        process.wait()


# -- directories --------------------------------------------------------------------------------
def _host_dir(root: Path) -> Path:
    host = root / "host"
    (host / "sub").mkdir(parents=True)
    (host / "a.txt").write_bytes(b"alpha")
    (host / "sub" / "b.txt").write_bytes(b"beta")
    return host


def test_dir_is_copied_in_and_is_the_only_preopen(tool: Path, tmp_path: Path) -> None:
    host = _host_dir(tmp_path)
    data = f"{host}::/data"
    assert cli("run", "--dir", data, tool, "--", "read", "/data/a.txt").stdout == b"alpha"
    assert cli("run", "--dir", data, tool, "--", "ls", "/data").stdout == b"a.txt\nsub\n"
    assert cli("run", "--dir", data, tool, "--", "preopens").stdout == b"3 /data\n"
    assert cli("run", tool, "--", "preopens").stdout == b""
    both = cli("run", "--dir", f"{host}::/data", "--dir", f"{host / 'sub'}::/other", tool,
               "--", "preopens")  # fmt: skip
    assert both.stdout == b"3 /data\n4 /other\n"


def test_dir_without_host_part_uses_the_same_name(tool: Path, tmp_path: Path) -> None:
    _host_dir(tmp_path)
    result = cli("run", "--dir", "host", tool, "--", "read", "host/sub/b.txt", cwd=tmp_path)
    assert result.stdout == b"beta"


def test_changes_stay_in_memory_without_write_back(tool: Path, tmp_path: Path) -> None:
    host = _host_dir(tmp_path)
    result = cli("run", "--dir", f"{host}::/data", tool, "--", "write", "/data/new.txt", "x")
    assert result.returncode == 0
    assert sorted(os.listdir(host)) == ["a.txt", "sub"]


def test_write_back_mirrors_the_vfs_tree(tool: Path, tmp_path: Path) -> None:
    host = _host_dir(tmp_path)
    written = cli("run", "--dir", f"{host}::/data", "--write-back", tool,
                  "--", "write", "/data/sub/new.txt", "created in wasm")  # fmt: skip
    assert written.returncode == 0
    assert (host / "sub" / "new.txt").read_bytes() == b"created in wasm"
    removed = cli("run", "--dir", f"{host}::/data", "--write-back", tool, "--", "rm", "/data/a.txt")
    assert removed.returncode == 0
    assert not (host / "a.txt").exists()
    assert (host / "sub" / "b.txt").read_bytes() == b"beta"


# -- bad input: exit 2 and one line ----------------------------------------------------------------
def test_bad_option() -> None:
    assert_usage_error(cli("run", "--bogus", "x.wasm"), "--bogus")


def test_no_command() -> None:
    assert_usage_error(cli())


def test_unknown_command() -> None:
    assert_usage_error(cli("fly"), "fly")


def test_missing_program(tmp_path: Path) -> None:
    assert_usage_error(cli("run", tmp_path / "missing.wasm"), "missing.wasm", "cannot read")


def test_program_is_a_directory(tmp_path: Path) -> None:
    assert_usage_error(cli("run", tmp_path), "cannot read")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"#!/bin/sh\necho not wasm\n", ["bad magic"]),
        (b"", ["bad magic"]),
        (b"\0asm\x01\0\0\0\x01\xff\xff", ["invalid WebAssembly module"]),
        (b"\0asm\x0d\0\x01\0", ["component"]),
        (bytes(wasmtime.wat2wasm('(module (import "env" "f" (func)))')), ["env.f"]),
        (bytes(wasmtime.wat2wasm(MEMORY_IMPORT)), ["wasi_snapshot_preview1.memory"]),
        (bytes(wasmtime.wat2wasm('(module (memory (export "memory") 1))')), ["_start"]),
    ],
    ids=["text", "empty", "garbage", "component", "foreign-import", "memory-import", "no-start"],
)
def test_not_a_wasi_module(tmp_path: Path, content: bytes, words: list[str]) -> None:
    program = tmp_path / "bad.wasm"
    program.write_bytes(content)
    assert_usage_error(cli("run", program), "bad.wasm", *words)


@pytest.mark.parametrize("bad", ["=value", "="])
def test_bad_env(tool: Path, bad: str) -> None:
    """A name is needed (a bare NAME passes ours: see above)."""
    assert_usage_error(cli("run", "--env", bad, tool), bad)


def test_bad_dir(tool: Path, tmp_path: Path) -> None:
    assert_usage_error(cli("run", "--dir", f"{tmp_path / 'nope'}::/x", tool), "not a directory")


def test_bad_stdin(tool: Path, tmp_path: Path) -> None:
    assert_usage_error(cli("run", "--stdin", tmp_path / "nope", tool), "--stdin")


def test_trap_is_one_line_and_exit_134(tool: Path) -> None:
    result = cli("run", tool, "--", "trap")
    assert result.returncode == 134
    assert result.stdout == b"before trap\n"
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and "unreachable" in lines[0]


# -- demo ------------------------------------------------------------------------------------
def test_demo() -> None:
    result = cli("demo")
    bundled = importlib.resources.files("wasi_wasm").joinpath("demo.wasm").is_file()
    if bundled:
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.splitlines()) >= 2
    else:
        assert_usage_error(result, "demo")


# -- reactors (more in tests/test_reactors.py) ------------------------------------------------
def test_invoke_arguments_may_follow_a_double_dash_and_be_negative(
    wasm_program: Callable[..., Path],
) -> None:
    calc = wasm_program("reactor_calc", ("-mexec-model=reactor",))
    result = cli("run", "--invoke", "add", calc, "--", "-5", "0x-3")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"-8\n", b"")
