"""Packaging: every file the package reads is package data, found through importlib.resources.

These checks run without building a wheel: they read the build configuration in ``pyproject.toml``
and the files on disk. ``.ci/wheel-smoke`` builds the wheel and runs it in a fresh venv.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import runpy
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

import hotspots
from hotspots import demo, launch
from hotspots.cli import main
from hotspots.offline import CDN_TO_LOCAL, VENDOR_DIR
from hotspots.tactics import DEFAULT_TACTICS_PATH, load_knowledge_base

REPO = Path(__file__).resolve().parents[1]
PACKAGE = resources.files("hotspots")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _package_data_files() -> set[Path]:
    """The non-Python files under hotspots/ that setuptools' package-data globs put in the wheel."""
    root = Path(str(PACKAGE))
    out: set[Path] = set()
    for pattern in PYPROJECT["tool"]["setuptools"]["package-data"]["hotspots"]:
        out |= {p for p in root.glob(pattern) if p.is_file()}
    return out


def test_tactics_json_is_package_data_and_loads():
    resource = PACKAGE.joinpath("data", "tactics.json")
    assert resource.is_file()
    raw = json.loads(resource.read_text(encoding="utf-8"))
    kb = load_knowledge_base()
    assert kb.path == str(resource) == str(DEFAULT_TACTICS_PATH)
    assert [t.id for t in kb.tactics] == [t["id"] for t in raw["tactics"]]
    assert len(kb.tactics) > 0


def test_every_mapped_vendor_asset_is_package_data():
    assert Path(str(PACKAGE.joinpath("static", "vendor"))) == VENDOR_DIR
    missing = [
        rel
        for rel in sorted(set(CDN_TO_LOCAL.values()))
        if not PACKAGE.joinpath("static", "vendor", *rel.split("/")).is_file()
    ]
    assert missing == []
    # The same through the Traversable API alone (what a zip-style resource reader offers).
    leaflet = PACKAGE.joinpath("static").joinpath("vendor").joinpath("leaflet")
    assert leaflet.joinpath("leaflet.js").read_bytes()[:3] == b"/* "


def test_package_data_globs_cover_every_data_file():
    """A data file added under hotspots/ but outside the globs would be missing from the wheel."""
    root = Path(str(PACKAGE))
    on_disk = {
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts
    }
    shipped = _package_data_files()
    assert sorted(str(p.relative_to(root)) for p in on_disk - shipped) == []
    assert root / "data" / "tactics.json" in shipped
    assert root / "py.typed" in shipped
    assert {root / "static" / "vendor" / rel for rel in CDN_TO_LOCAL.values()} <= shipped


def test_packages_found_include_the_app_package():
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    for name in ("hotspots", "hotspots.tactics", "hotspots_app", "hotspots_app.map"):
        assert any(fnmatch.fnmatchcase(name, pattern) for pattern in include), name
    assert not any(fnmatch.fnmatchcase("tests", pattern) for pattern in include)
    assert not any(fnmatch.fnmatchcase("benchmarks", pattern) for pattern in include)


def test_one_version_source():
    project = PYPROJECT["project"]
    assert "version" not in project
    assert project["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "hotspots.__version__"}
    assert hotspots.__version__.count(".") == 2


def test_dependencies_split_core_app_test():
    project = PYPROJECT["project"]

    def names(reqs):
        return {r.split(">")[0].split("<")[0].split("=")[0].strip().lower() for r in reqs}

    core = names(project["dependencies"])
    app = names(project["optional-dependencies"]["app"])
    test = names(project["optional-dependencies"]["test"])
    dask = names(project["optional-dependencies"]["dask"])
    assert {"streamlit", "streamlit-folium", "altair"} == app
    assert {"dask", "distributed"} == dask
    assert not core & app and not core & test and not core & dask
    assert {"pyarrow", "jinja2", "folium", "geopandas"} <= core
    # requirements.txt pins exactly one version of each declared dependency.
    pins = {}
    for line in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    assert set(pins) == core | app | test | dask


def test_repository_static_link_is_served_by_streamlit():
    """``make run`` serves ./static; Streamlit refuses files whose real path leaves that folder."""
    from streamlit import file_util
    from streamlit.web.server.component_file_utils import build_safe_abspath

    root = os.path.realpath(file_util.get_app_static_dir(str(REPO / "app.py")))
    served = build_safe_abspath(root, "vendor/leaflet/leaflet.js")
    assert served == os.path.realpath(VENDOR_DIR / "leaflet" / "leaflet.js")


def test_launch_dir_serves_the_package_assets_and_runs_the_script(tmp_path):
    from streamlit import file_util
    from streamlit.web.server.component_file_utils import build_safe_abspath

    script = tmp_path / "elsewhere" / "my_app.py"
    script.parent.mkdir()
    script.write_text(
        "from pathlib import Path\nPath(__file__).with_name('ran.txt').write_text(__file__)\n",
        encoding="utf-8",
    )
    folder = tmp_path / "launch"
    folder.mkdir()
    main_script = launch.prepare_launch_dir(script, folder)
    assert main_script.parent == folder
    root = os.path.realpath(file_util.get_app_static_dir(str(main_script)))
    for rel in sorted(set(CDN_TO_LOCAL.values())):
        assert build_safe_abspath(root, "vendor/" + rel) == os.path.realpath(VENDOR_DIR / rel)
    # The main script runs the app script, with the app script's own __file__.
    runpy.run_path(str(main_script), run_name="__main__")
    assert (script.parent / "ran.txt").read_text() == str(script.resolve())


def test_app_command_carries_the_repository_streamlit_config(tmp_path):
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    flat = {
        f"{section}.{key}": value for section, keys in config.items() for key, value in keys.items()
    }
    assert launch.SERVER_OPTIONS == flat
    cmd = launch.app_command(tmp_path / "main.py", port=8599)
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert cmd[4] == str(tmp_path / "main.py")
    assert "--server.enableStaticServing=true" in cmd
    assert "--browser.gatherUsageStats=false" in cmd
    assert "--server.maxUploadSize=200" in cmd
    assert "--server.port=8599" in cmd


def test_app_script_in_a_checkout_is_the_repository_app(monkeypatch):
    real = launch.importlib.util.find_spec
    monkeypatch.setattr(
        launch.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "hotspots_app" else real(name, *a),
    )
    assert launch.app_script() == REPO / "app.py"


def test_app_script_prefers_the_app_package_page(tmp_path, monkeypatch):
    """What an installed wheel runs: ``hotspots_app/__main__.py``, when the package has one."""
    package = tmp_path / "hotspots_app"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "__main__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "hotspots_app", raising=False)
    assert launch.app_script() == package / "__main__.py"
    (package / "__main__.py").unlink()
    assert launch.app_script() == REPO / "app.py"


def test_hotspots_app_without_streamlit_names_the_extra(monkeypatch, capsys):
    real = launch.importlib.util.find_spec
    monkeypatch.setattr(
        launch.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "streamlit" else real(name, *a),
    )
    with pytest.raises(launch.AppNotInstalledError, match=r"pip install 'hotspots\[app\]'"):
        launch.run_app()
    assert main(["app"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'hotspots[app]'" in err
    assert err.count("\n") == 1


def test_hotspots_app_with_a_missing_script_is_one_sentence(tmp_path, capsys):
    assert main(["app", "--script", str(tmp_path / "nope.py")]) == 2
    err = capsys.readouterr().err
    assert "nope.py" in err and "does not exist" in err and err.count("\n") == 1


def test_demo_csv_goes_to_geodata_in_a_checkout():
    assert demo.DEMO_CSV == REPO / "geodata" / "demo_incidents.csv"


def test_every_template_the_package_names_is_package_data():
    """Templates named in the code (get_template) or in templates (import, include, extends)."""
    import jinja2

    root = Path(str(PACKAGE))
    names = set()
    for source in root.glob("*.py"):
        names |= set(re.findall(r"get_template\(\s*[\"']([^\"']+)[\"']", source.read_text("utf-8")))
    templates = PACKAGE.joinpath("templates")
    for entry in (e for e in templates.iterdir() if e.is_file()):
        text = entry.read_text(encoding="utf-8")
        names |= set(re.findall(r"{%-?\s*(?:import|include|extends|from)\s+[\"']([^\"']+)", text))
    assert "briefing.html" in names
    loader = jinja2.PackageLoader("hotspots", "templates")
    assert sorted(names - set(loader.list_templates())) == []
    shipped = _package_data_files()
    assert all(root / "templates" / name in shipped for name in names)
