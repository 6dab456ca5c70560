"""Imports point one way: edges -> services -> search -> permissions -> models -> core.

The layers are read off the folder tree (see the README's "What is where"). A module may
import its own layer and any layer below it, never one above. Besides: no service builds a
URL or imports a web cache, search registers no blueprint and is the only home of Whoosh,
and the API client imports neither Flask nor SQLAlchemy.
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PKG = ROOT / "marktplatz"

# Lower index = lower layer. A module may import modules of its own or a lower layer.
LAYERS = [
    ("core", ("marktplatz.core", "marktplatz.config")),
    ("models", ("marktplatz.models",)),
    ("permissions", ("marktplatz.permissions",)),
    ("search", ("marktplatz.search",)),
    ("services", ("marktplatz.services", "marktplatz.schemas")),
    ("edges", ("marktplatz.views", "marktplatz.cli", "marktplatz.wsgi", "marktplatz")),
]


def layer_of(module: str) -> int:
    """Return the index of module's layer (the longest matching prefix wins)."""
    best, best_len = None, -1
    for i, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    assert best is not None, module
    return best


def module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: pathlib.Path) -> list[tuple[int, str]]:
    """Return (line, absolute module) of every marktplatz import in path, nested ones too."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("marktplatz"):
                for alias in node.names:
                    full = f"{mod}.{alias.name}"
                    # "from . import search" names a module; "from .x import f" a name in x
                    target = full if (PKG.parent / (full.replace(".", "/") + ".py")).exists() or (
                        PKG.parent / full.replace(".", "/") / "__init__.py").exists() else mod
                    out.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("marktplatz")]
    return out


def _modules():
    return sorted(PKG.rglob("*.py"))


def test_imports_point_down():
    offenders = []
    for path in _modules():
        here = module_name(path)
        for line, target in imports_of(path):
            if target.startswith("marktplatz_client"):
                continue
            if layer_of(target) > layer_of(here):
                offenders.append(f"{here}:{line} imports {target} ({LAYERS[layer_of(target)][0]})")
    assert offenders == []


def test_the_check_sees_an_upward_import(tmp_path):
    assert layer_of("marktplatz.views.web.pagecache") > layer_of("marktplatz.services.queries")
    assert layer_of("marktplatz.search.query") > layer_of("marktplatz.permissions.visibility")
    assert layer_of("marktplatz.core.db") < layer_of("marktplatz.models.listing")


def _source(sub: str) -> list[tuple[pathlib.Path, str]]:
    return [(p, p.read_text(encoding="utf-8")) for p in sorted((PKG / sub).rglob("*.py"))]


def test_services_build_no_urls_and_use_no_web_cache():
    for path, text in _source("services"):
        assert "url_for" not in text, path
        assert "pagecache" not in text, path


def test_search_registers_no_blueprint():
    for path, text in _source("search"):
        assert "Blueprint" not in text and "register_blueprint" not in text, path


def test_whoosh_is_imported_only_inside_search():
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        if (PKG / "search") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path}:{node.lineno}" for n in names if n.split(".")[0] == "whoosh"]
    assert offenders == []


def test_the_client_imports_no_flask_or_sqlalchemy():
    client = ROOT / "clients" / "python" / "src" / "marktplatz_client"
    files = sorted(client.rglob("*.py"))
    assert len(files) >= 3, f"the client package moved: nothing to check in {client}"
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
                assert node.level == 0 or not (node.module or "").startswith("marktplatz"), path
            else:
                continue
            for n in names:
                assert n.split(".")[0] not in {"flask", "sqlalchemy", "marktplatz", "whoosh"}, (path, n)
