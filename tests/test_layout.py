"""The shape of the house: every import arrow points one way, and modules stay readable."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "feedsvc"
MAX_LINES = 450   # a module longer than this has more than one job: split it at its seams


def imported_modules(path: Path) -> set[str]:
    """Return the absolute names of every module *path* imports (relative ones resolved)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            names.add(name)
            names.update(f"{name}.{alias.name}" for alias in node.names)
    return names


def modules_of(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


FORBIDDEN = {
    "source": ("feedsvc.feeds", "feedsvc.pages", "feedsvc.site", "feedsvc.web",
               "feedsvc.scheduler", "feedsvc.export", "flask", "werkzeug"),
    "feeds": ("feedsvc.pages", "feedsvc.site", "feedsvc.web", "feedsvc.scheduler",
              "feedsvc.export", "flask", "werkzeug"),
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_lower_layers_import_nothing_above_them(layer):
    assert modules_of(layer), f"feedsvc/{layer}/ has no modules"
    wrong = {}
    for path in modules_of(layer):
        bad = sorted(name for name in imported_modules(path)
                     if name.startswith(FORBIDDEN[layer])
                     and name.split(".")[:2] != ["feedsvc", layer])
        if bad:
            wrong[path.name] = bad
    assert wrong == {}


def test_the_format_writers_know_nothing_of_the_store():
    names = imported_modules(PACKAGE / "feeds" / "formats.py")
    assert not {n for n in names if n.startswith(("feedsvc.source", "feedsvc.config"))}


def test_each_package_says_what_it_owns_and_may_import():
    for layer in ("source", "feeds", "web"):
        doc = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text()))
        assert doc and "Owns:" in doc and "May import:" in doc, layer


def test_no_module_is_longer_than_one_sitting():
    long = {str(path.relative_to(PACKAGE)): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
