"""Where the zoo's networks live and how to read them (stdlib only, no side effects).

A network is either one module ``networks/<name>.py`` or a package ``networks/<name>/``.
Its files are named by their path relative to ``networks/`` with forward slashes, e.g.
``"xor_net.py"`` or ``"pkg_net/model.py"``; a "sources" mapping goes from such a path to text.
"""

from __future__ import annotations

from pathlib import Path

NETWORKS_DIR = Path(__file__).resolve().parent / "networks"


def network_names() -> list[str]:
    """Every network in the zoo, sorted: module stems and package directory names."""
    names = [p.stem for p in NETWORKS_DIR.glob("*.py")]
    names += [p.parent.name for p in NETWORKS_DIR.glob("*/__init__.py")]
    return sorted(names)


def torch_network_names() -> list[str]:
    """The PyTorch networks under ``networks/torch/`` (``torch/<stem>`` or ``torch/<folder>``).

    They are linted like the others but not gradient-checked by the numpy harness (torch is not
    a test dependency of the zoo): their mutants are tied to the KB entries' numeric tests."""
    root = NETWORKS_DIR / "torch"
    names = [f"torch/{p.stem}" for p in root.glob("*.py")]
    names += [f"torch/{p.name}" for p in root.iterdir() if p.is_dir() and any(p.glob("*.py"))]
    return sorted(names)


def network_files(name: str) -> list[str]:
    """Relative paths of the files of network ``name``; a package lists ``__init__.py`` first."""
    module = NETWORKS_DIR / f"{name}.py"
    if module.is_file():
        return [module.relative_to(NETWORKS_DIR).as_posix()]
    folder = NETWORKS_DIR / name
    if name.startswith("torch/") and folder.is_dir():
        return sorted(p.relative_to(NETWORKS_DIR).as_posix() for p in folder.glob("*.py"))
    package = NETWORKS_DIR / name
    if (package / "__init__.py").is_file():
        files = sorted(p.relative_to(NETWORKS_DIR).as_posix() for p in package.glob("*.py"))
        init = f"{name}/__init__.py"
        return [init, *(f for f in files if f != init)]
    raise KeyError(f"no network {name!r} in {NETWORKS_DIR}")


def read_sources(name: str) -> dict[str, str]:
    """The original text of every file of network ``name``, keyed by relative path."""
    return {rel: (NETWORKS_DIR / rel).read_text(encoding="utf-8") for rel in network_files(name)}


def write_sources(sources: dict[str, str], dest: Path) -> list[Path]:
    """Write ``sources`` under directory ``dest`` (creating sub-directories); return the paths."""
    written = []
    for rel, text in sources.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
