"""Start the Streamlit app (``hotspots app``) with the vendored map assets served locally.

Streamlit serves the folder ``static`` next to an app's main script at ``/app/static/`` (with
``server.enableStaticServing``), and the map asks for its JavaScript and CSS at
``/app/static/vendor/...`` (see :mod:`hotspots.offline`). An installed package has no such folder
next to any script, so :func:`run_app` writes a two-line main script into a temporary folder, links
``static`` there to the package's own ``hotspots/static`` (copies it where links are not allowed),
and runs ``python -m streamlit run`` on it with :data:`SERVER_OPTIONS`.

The app itself needs the ``[app]`` extra (Streamlit, streamlit-folium, altair); without it,
:func:`run_app` raises :class:`AppNotInstalledError` with the command that installs it. Nothing here
imports Streamlit.

National data does not come through a browser upload: ``hotspots app --data PATH``
(``run_app(data=PATH)``) sets :data:`DATA_ENV` for the app, which then opens that folder of CSV
files or Parquet dataset on the server and says what it opened.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from hotspots._errors import HotspotsError, InputError
from hotspots.offline import VENDOR_DIR

__all__ = [
    "DATA_ENV",
    "SERVER_OPTIONS",
    "AppNotInstalledError",
    "app_command",
    "app_script",
    "data_environment",
    "prepare_launch_dir",
    "run_app",
]

#: Streamlit options for the app, the same as the repository's ``.streamlit/config.toml`` (which
#: ``make run`` reads from the working directory; an installed package has no such file, so
#: ``hotspots app`` passes them on the command line). Offline and private: no usage statistics,
#: static serving on for the vendored map assets, no error details shown to users. A server, not
#: an editor: no watching of source files (each new session walked every imported module's path,
#: 0.1-0.3 CPU s) and no full garbage collection after every script run (0.1-0.2 s each, three or
#: four runs per session, every thread of the server stopped meanwhile; Python's own collections
#: still run).
SERVER_OPTIONS: dict[str, str | int | bool] = {
    "browser.gatherUsageStats": False,
    # Set, so Streamlit never asks an outside service for this machine's IP at start-up.
    "browser.serverAddress": "localhost",
    "server.headless": True,
    "server.enableStaticServing": True,
    "server.maxUploadSize": 200,
    "server.enableXsrfProtection": True,
    "server.enableCORS": True,
    "server.fileWatcherType": "none",
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "theme.base": "light",
    "runner.postScriptGC": False,
}

_SOURCE_ROOT = Path(__file__).resolve().parent.parent
#: The environment variable the app reads its server data from (a folder of CSV files, a Parquet
#: dataset or one file); ``hotspots_app.data`` reads the same name.
DATA_ENV = "HOTSPOTS_DATA"


class AppNotInstalledError(HotspotsError):
    """The Streamlit app cannot start: its extra or its main script is not installed."""


def app_script() -> Path:
    """The app's main script.

    The installed app package's page, ``hotspots_app/__main__.py``, when there is one (so an
    installed wheel runs the app it carries); otherwise, in a source checkout (the folder above the
    package holds ``pyproject.toml``), the repository's ``app.py``.

    Returns
    -------
    Path

    Raises
    ------
    AppNotInstalledError
        When this installation carries no app script.
    """
    spec = importlib.util.find_spec("hotspots_app")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            page = Path(folder) / "__main__.py"
            if page.is_file():
                return page
    script = _SOURCE_ROOT / "app.py"
    if (_SOURCE_ROOT / "pyproject.toml").is_file() and script.is_file():
        return script
    msg = (
        "This installation of hotspots has no app script; run `hotspots app --script PATH/app.py` "
        "with the app.py of a hotspots checkout."
    )
    raise AppNotInstalledError(msg)


def prepare_launch_dir(script: str | Path, folder: str | Path) -> Path:
    """Write a main script that runs ``script``, next to a ``static`` folder Streamlit can serve.

    Parameters
    ----------
    script : str or Path
        The app's main script (run with :func:`runpy.run_path`, so its ``__file__`` is its own).
    folder : str or Path
        An empty, existing folder; it receives ``hotspots_app_main.py`` and ``static`` (a link to
        the package's ``hotspots/static``, or a copy where the system allows no links).

    Returns
    -------
    Path
        The main script to give ``streamlit run``.
    """
    folder = Path(folder)
    static = VENDOR_DIR.parent
    link = folder / "static"
    try:
        link.symlink_to(static, target_is_directory=True)
    except OSError:
        shutil.copytree(static, link)
    main = folder / "hotspots_app_main.py"
    main.write_text(
        "# Written by `hotspots app`: runs the app with ./static serving the package's map "
        "assets.\n"
        f"import runpy\n\nrunpy.run_path({str(Path(script).resolve())!r}, run_name='__main__')\n",
        encoding="utf-8",
    )
    return main


def app_command(main: str | Path, port: int | None = None) -> list[str]:
    """The ``python -m streamlit run`` command line for ``main`` with :data:`SERVER_OPTIONS`.

    Parameters
    ----------
    main : str or Path
        The main script, usually from :func:`prepare_launch_dir`.
    port : int, optional
        TCP port to listen on; default Streamlit's (8501).

    Returns
    -------
    list of str
    """
    options = dict(SERVER_OPTIONS)
    if port is not None:
        options["server.port"] = int(port)
    flags = [
        f"--{name}={str(value).lower() if isinstance(value, bool) else value}"
        for name, value in options.items()
    ]
    return [sys.executable, "-m", "streamlit", "run", str(main), *flags]


def data_environment(data: str | os.PathLike[str] | None) -> dict[str, str]:
    """The app's environment: this process's, with :data:`DATA_ENV` set to ``data`` when given.

    Parameters
    ----------
    data : str or Path, optional
        A folder of CSV files, a Parquet dataset (folder) or one file on this server.

    Returns
    -------
    dict
        Environment variables for the app's process.

    Raises
    ------
    InputError
        When ``data`` does not exist.
    """
    env = dict(os.environ)
    if data is not None:
        path = Path(data).expanduser()
        if not path.exists():
            msg = "The data folder given to the app does not exist."
            raise InputError(
                msg, file=str(path), hint="give a folder of CSV files or a Parquet dataset."
            )
        env[DATA_ENV] = str(path.resolve())
    return env


def run_app(
    script: str | Path | None = None,
    port: int | None = None,
    data: str | os.PathLike[str] | None = None,
) -> int:
    """Run the app until it stops (Ctrl+C), serving the vendored map assets locally.

    Parameters
    ----------
    script : str or Path, optional
        The app's main script; default :func:`app_script`.
    port : int, optional
        TCP port; default Streamlit's (8501).
    data : str or Path, optional
        A folder of CSV files or a Parquet dataset on this server for the app to open instead of
        the demo (:data:`DATA_ENV`); uploads still replace it in a session.

    Returns
    -------
    int
        Streamlit's exit code.

    Raises
    ------
    AppNotInstalledError
        Without Streamlit (the ``[app]`` extra) or without an app script.
    """
    if importlib.util.find_spec("streamlit") is None:
        msg = "The app needs the [app] extra, which is not installed: pip install 'hotspots[app]'."
        raise AppNotInstalledError(msg)
    env = data_environment(data)
    script = app_script() if script is None else Path(script)
    if not script.is_file():
        msg = f"The app script {os.fspath(script)!r} does not exist."
        raise AppNotInstalledError(msg)
    with tempfile.TemporaryDirectory(prefix="hotspots-app-") as folder:
        proc = subprocess.Popen(app_command(prepare_launch_dir(script, folder), port), env=env)
        # A SIGTERM to this process stops Streamlit too, and the temporary folder is removed.
        previous = signal.signal(signal.SIGTERM, lambda signum, _frame: proc.send_signal(signum))
        try:
            return proc.wait()
        except KeyboardInterrupt:
            # The terminal's Ctrl+C reached Streamlit too; give it time to shut down.
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)
