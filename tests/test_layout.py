"""The package's layout rules: no module imports another module's private names, and the
detection pipeline does not depend on the demo data generator."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted((ROOT / "hotspots").glob("*.py"))

#: Private names still shared between modules; this set only ever shrinks (it is empty: the
#: export concern's ``_jsonable``/``_clean`` became the public ``hotspots.jsonutil.to_jsonable``).
KNOWN: set[tuple[str, str]] = set()


def _imports(path: Path) -> list[tuple[int, str, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hotspots"):
            out.extend((node.lineno, node.module, a.name) for a in node.names)
    return out


def test_no_module_imports_private_names_of_another():
    found = []
    for path in [*MODULES, ROOT / "app.py"]:
        for line, module, name in _imports(path):
            private = name.startswith("_") and not name.startswith("__")
            if private and (module, name) not in KNOWN:
                found.append(f"{path.name}:{line}: from {module} import {name}")
    assert found == []


def test_only_errors_is_a_private_module_others_import():
    found = [
        f"{path.name}:{line}: {module}"
        for path in MODULES
        for line, module, _ in _imports(path)
        if module.rsplit(".", 1)[-1].startswith("_") and module != "hotspots._errors"
    ]
    assert found == []


def test_detection_does_not_import_the_demo():
    for name in ("detect", "kde", "clusters", "gistar", "profile", "incidents", "stats"):
        modules = {m for _, m, _ in _imports(ROOT / "hotspots" / f"{name}.py")}
        assert "hotspots.demo" not in modules, name
