"""Every Python example and every command line in the README and docs runs as written.

Python: the programs the examples name (prog.wasm, tool.wasm, cc1.wasm, gen.wasm, ...) are
one stand-in (tests/programs/doc_stand_in.c) copied under each name into the working
directory, beside the host directory the examples copy in; the blocks of one document run in
order in one namespace, as a reader would type them. A block that raises fails the test with
its document and its first line.

Command lines: every line of a 4-space-indented code block and of a ```sh (shell, bash,
console) block of README.md and docs/*.md is found by parsing the documents, so a new example
is run without being listed here. Each runs as written (shlex-split; `wasi-wasm` is `python -m
wasi_wasm` on the package under test) in a fresh working directory holding what it names: the
stand-in under each .wasm name (tests/programs/reactor_calc.c, a reactor with an `add` export,
for a program run with --invoke), each --dir host directory with the files the arguments name
inside its guest path, each --stdin file. It must exit with 0 and write nothing on stderr but
the CLI's "compiling" notice, and where its trailing comment says `# prints X`, print exactly X
and a newline. Commands joined by `&&` run in turn. Excepted, and only these: the set-up
commands `python -m pip install ...`, which CI runs itself before the tests, and `python -m
pytest`, the test suite itself; usage synopses, whose words have `[optional]` parts or `...`.
Any other command (e.g. `node`), or a shell operator other than `&&` outside quotes, fails
the test: it needs a way to run here first."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cli_run import cli_env

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", ROOT / "docs" / "SHARING.md", ROOT / "docs" / "HOST_NOTES.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
PROGRAM = re.compile(r"""["']([\w.-]+\.wasm)["']""")


def python_blocks(document: Path) -> list[str]:
    return BLOCK.findall(document.read_text(encoding="utf-8"))


@pytest.fixture
def workdir(tmp_path: Path, wasm_program: Callable[..., Path]) -> Iterator[Path]:
    stand_in = wasm_program("doc_stand_in")
    for document in DOCUMENTS:
        for name in PROGRAM.findall(document.read_text(encoding="utf-8")):
            shutil.copyfile(stand_in, tmp_path / name)
    (tmp_path / "host_dir").mkdir()
    (tmp_path / "host_dir" / "notes.txt").write_text("from the host\n")
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(cwd)


def test_the_documents_have_examples() -> None:
    assert all(python_blocks(document) for document in DOCUMENTS)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.name)
def test_every_python_example_runs(document: Path, workdir: Path) -> None:
    namespace: dict[str, object] = {"__name__": "doc_example"}
    for block in python_blocks(document):
        try:
            exec(compile(block, f"{document.name} example", "exec"), namespace)
        except Exception as error:  # the example, its first line and what it raised
            pytest.fail(
                f"{document.name}: the example starting {block.splitlines()[0]!r} raised {error!r}"
            )


# -- command lines ------------------------------------------------------------------------------
COMMAND_DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_FENCE = ("sh", "shell", "bash", "console")
SHELL_OPERATORS = "|&;<>()`$"
PRINTS = re.compile(r"prints\s+(?:`([^`]*)`|([^\s,;]+))")
COMPILING_NOTICE = re.compile(rb"^wasi-wasm: compiling .*\n", re.MULTILINE)


def command_lines(markdown: str) -> list[tuple[int, str]]:
    """(line number, command) for each command of a Markdown text: the lines of its
    4-space-indented code blocks (after a blank line, outside fences) and of its ```sh (shell,
    bash, console) blocks (of a console block, the lines after a `$ ` prompt). A line indented
    deeper than its block, or after a line ending in a backslash, continues the command before
    it."""
    found: list[tuple[int, str]] = []
    fence: str | None = None  # the open fence's info string
    in_block = False  # inside an indented code block
    continued = False
    previous_blank = True
    for number, line in enumerate(markdown.splitlines(), 1):
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith("```") and stripped.strip("`") == "":
                fence = None
            elif fence in SHELL_FENCE and stripped and not stripped.startswith("#"):
                if fence == "console" and not continued and not stripped.startswith("$ "):
                    continue  # a console block's output
                text = stripped.removeprefix("$ ")
                if continued:
                    found[-1] = (found[-1][0], found[-1][1][:-1] + " " + text)
                else:
                    found.append((number, text))
                continued = text.endswith("\\")
            continue
        if line.startswith("```"):
            fence, in_block, continued = line.strip("`").strip().split(" ")[0], False, False
        elif line.startswith("    ") and stripped and (in_block or previous_blank):
            deeper = line.startswith("     ")
            if found and in_block and (continued or deeper):
                joined = found[-1][1].removesuffix("\\").rstrip()
                found[-1] = (found[-1][0], joined + " " + stripped)
            else:
                found.append((number, stripped))
            in_block, continued = True, stripped.endswith("\\")
        elif stripped:
            in_block = False
        previous_blank = not stripped
    return found


def shell_split(command: str) -> tuple[list[list[str]], str]:
    """The words of each `&&`-joined command of a command line, and its trailing comment.
    A shell operator other than `&&` outside quotes raises ValueError: it would need a shell."""
    segments, comment = [""], ""
    quote = ""
    i = 0
    while i < len(command):
        c = command[i]
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"':
                segments[-1] += c
                i += 1
                c = command[i] if i < len(command) else ""
        elif c in "'\"":
            quote = c
        elif c == "\\":
            segments[-1] += c
            i += 1
            c = command[i] if i < len(command) else ""
        elif c == "#" and (i == 0 or command[i - 1].isspace()):
            comment = command[i + 1 :].strip()
            break
        elif command.startswith("&&", i):
            segments.append("")
            i += 2
            continue
        elif c in SHELL_OPERATORS:
            raise ValueError(f"shell operator {c!r} outside quotes in {command!r}")
        segments[-1] += c
        i += 1
    return [shlex.split(segment) for segment in segments], comment


def synopsis(command: str) -> bool:
    """A usage synopsis: words with `[optional]` parts or `...`."""
    return any(word.startswith("[") or "..." in word for word in command.split())


def excepted(words: list[str]) -> bool:
    """Set-up commands CI runs itself, and the test suite itself."""
    pip, suite = ["python", "-m", "pip", "install"], ["python", "-m", "pytest"]
    return words[:4] == pip or words[:3] == suite


def runnable(document: Path) -> list[tuple[int, str]]:
    """The command lines of a document that this test runs: not synopses, not only set-up
    commands (one it cannot split is kept, to fail saying why)."""
    found = []
    for number, command in command_lines(document.read_text(encoding="utf-8")):
        try:
            segments = shell_split(command)[0]
        except ValueError:
            segments = [[]]
        if not synopsis(command) and not all(words and excepted(words) for words in segments):
            found.append((number, command))
    return found


COMMAND_EXAMPLES = [
    pytest.param(command, id=f"{document.name}:{number}")
    for document in COMMAND_DOCUMENTS
    for number, command in runnable(document)
]


@pytest.fixture
def cli_programs(wasm_program: Callable[..., Path]) -> dict[str, Path]:
    return {
        "stand_in": wasm_program("doc_stand_in"),
        "reactor": wasm_program("reactor_calc", ("-mexec-model=reactor",)),
    }


def option_values(words: list[str], option: str) -> list[str]:
    """The values of `--option V` and `--option=V` among the words."""
    values = [word.split("=", 1)[1] for word in words if word.startswith(option + "=")]
    values += [words[i + 1] for i, word in enumerate(words[:-1]) if word == option]
    return values


def prepare(workdir: Path, words: list[str], programs: dict[str, Path]) -> None:
    """Put in the working directory what a command names: its programs, --dir host trees with
    the files its arguments name under their guest paths, --stdin files."""
    program = programs["reactor" if option_values(words, "--invoke") else "stand_in"]
    for word in words:
        if word.endswith(".wasm") and not word.startswith(("/", "-")):
            (workdir / word).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(program, workdir / word)
    for spec in option_values(words, "--dir"):
        host, _, guest = spec.partition("::")
        (workdir / host).mkdir(parents=True, exist_ok=True)
        prefix = (guest or host).rstrip("/") + "/"
        for word in words:
            if word.startswith(prefix) and len(word) > len(prefix):
                target = workdir / host / word[len(prefix) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("from the host\n")
    for name in option_values(words, "--stdin"):
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text("one\ntwo\n")


def run_command_line(command: str, workdir: Path, programs: dict[str, Path]) -> None:
    """Run a documented command line as written; AssertionError if it fails or prints other
    than its comment says."""
    try:
        segments, comment = shell_split(command)
    except ValueError as error:
        raise AssertionError(str(error)) from None
    for words in segments:
        assert words, f"an empty command in {command!r}"
        if excepted(words):
            continue
        if words[0] == "wasi-wasm":
            argv = [sys.executable, "-m", "wasi_wasm", *words[1:]]
        elif words[:3] == ["python", "-m", "wasi_wasm"]:
            argv = [sys.executable, *words[1:]]
        else:
            raise AssertionError(f"no way to run {words[0]!r} here: {command!r}")
        prepare(workdir, words, programs)
        result = subprocess.run(
            argv, input=b"", capture_output=True, cwd=workdir, env=cli_env(), timeout=120,
            check=False,
        )  # fmt: skip
        stderr = COMPILING_NOTICE.sub(b"", result.stderr)
        assert result.returncode == 0 and stderr == b"", (
            f"{command!r} exited with {result.returncode}: {result.stderr.decode(errors='replace')}"
        )
    stated = PRINTS.match(comment)
    if stated:
        expected = (stated.group(1) if stated.group(1) is not None else stated.group(2)) + "\n"
        assert result.stdout.decode(errors="replace") == expected, (
            f"{command!r} printed {result.stdout!r}, its comment says {expected!r}"
        )


def test_the_documents_have_command_line_examples() -> None:
    commands = [command for param in COMMAND_EXAMPLES for command in param.values]
    assert any(str(c).startswith("wasi-wasm run --invoke add calc.wasm 2 3") for c in commands)
    assert any(str(c).startswith("wasi-wasm run --dir ./photos::/photos") for c in commands)
    assert sum(str(c).startswith("wasi-wasm pipe ") for c in commands) == 4
    assert "python -m pip install . && wasi-wasm demo" in commands


@pytest.mark.parametrize("command", COMMAND_EXAMPLES)
def test_every_command_line_example_runs(
    command: str, tmp_path: Path, cli_programs: dict[str, Path]
) -> None:
    run_command_line(command, tmp_path, cli_programs)


PLANTED = """# A planted document

Prose with `wasi-wasm run inline.wasm` is not an example.

    wasi-wasm run --invoke add calc.wasm 4 5    # prints 9
    wasi-wasm run [--env K=V]... PROGRAM.wasm [-- ARGS...]
    wasi-wasm run --dir ./photos::/photos \\
        resize.wasm -- /photos/b.png
    python -m wasi_wasm run prog.wasm
                  --argv0 tool

- a list item
    with a line indented four spaces, no example

```python
    wasi-wasm run in_python.wasm
```

```sh
# a comment line
$ wasi-wasm pipe gen.wasm 3 '|' count.wasm   # prints `3`
python -m pip install . && wasi-wasm demo
```

```console
$ wasi-wasm run --invoke add calc.wasm 1 1
2
```
"""


def test_the_parser_finds_a_planted_example() -> None:
    assert command_lines(PLANTED) == [
        (5, "wasi-wasm run --invoke add calc.wasm 4 5    # prints 9"),
        (6, "wasi-wasm run [--env K=V]... PROGRAM.wasm [-- ARGS...]"),
        (7, "wasi-wasm run --dir ./photos::/photos resize.wasm -- /photos/b.png"),
        (9, "python -m wasi_wasm run prog.wasm --argv0 tool"),
        (21, "wasi-wasm pipe gen.wasm 3 '|' count.wasm   # prints `3`"),
        (22, "python -m pip install . && wasi-wasm demo"),
        (26, "wasi-wasm run --invoke add calc.wasm 1 1"),
    ]
    words = ["wasi-wasm", "pipe", "gen.wasm", "3", "|", "count.wasm"]
    assert shell_split(command_lines(PLANTED)[4][1]) == ([words], "prints `3`")
    synopses = [synopsis(command) for _, command in command_lines(PLANTED)]
    assert synopses == [False, True, False, False, False, False, False]
    assert excepted(shell_split(command_lines(PLANTED)[5][1])[0][0])


@pytest.mark.parametrize(
    "command",
    [
        "wasi-wasm run --invoke add calc.wasm 4 5    # prints 9",
        "wasi-wasm run --dir ./photos::/photos resize.wasm -- /photos/b.png",
        "wasi-wasm pipe gen.wasm 3 '|' count.wasm   # prints `3`",
        "python -m wasi_wasm run --dir work::/work prog.wasm -- /work/a.txt",
    ],
)
def test_planted_examples_run(command: str, tmp_path: Path, cli_programs: dict[str, Path]) -> None:
    run_command_line(command, tmp_path, cli_programs)


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("wasi-wasm run --dri ./photos::/photos resize.wasm -- /photos/a.png", "exited with 2"),
        ("wasi-wasm run --invoke add calc.wasm 2 3   # prints 6", "its comment says '6"),
        ("wasi-wasm pipe --stdin in.txt a.wasm /nowhere/x '|' b.wasm", "exited with 0"),
        ("wasi-wasm pipe gen.wasm 3 | count.wasm", "shell operator '|'"),
        ("node run.mjs", "no way to run 'node'"),
    ],
)
def test_a_wrong_example_fails(
    command: str, why: str, tmp_path: Path, cli_programs: dict[str, Path]
) -> None:
    with pytest.raises(AssertionError, match=re.escape(why)):
        run_command_line(command, tmp_path, cli_programs)
