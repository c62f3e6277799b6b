"""Every Python example in the README and docs runs as written. The programs they name
(prog.wasm, tool.wasm, cc1.wasm, gen.wasm, ...) are one stand-in
(tests/programs/doc_stand_in.c) copied under each name into the working directory, beside
the host directory the examples copy in; the blocks of one document run in order in one
namespace, as a reader would type them. A block that raises fails the test with its
document and its first line."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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
