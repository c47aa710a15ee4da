"""The app server's options that save CPU per session (session 11, helper srv11)."""

from __future__ import annotations

from hotspots import launch


def test_server_watches_no_source_files_and_runs_no_full_gc_after_each_run(tmp_path):
    assert launch.SERVER_OPTIONS["server.fileWatcherType"] == "none"
    assert launch.SERVER_OPTIONS["runner.postScriptGC"] is False
    cmd = launch.app_command(tmp_path / "main.py")
    assert "--server.fileWatcherType=none" in cmd
    assert "--runner.postScriptGC=false" in cmd


def test_every_server_option_is_a_streamlit_option_of_the_right_type():
    from streamlit import config

    options = config.get_config_options()
    for name, value in launch.SERVER_OPTIONS.items():
        assert name in options, name
        default = options[name].default_val
        if isinstance(default, bool):
            assert isinstance(value, bool), name
        elif name == "server.fileWatcherType":
            assert value in ("auto", "watchdog", "poll", "none")
