"""``imgsvc serve``'s gunicorn settings: the shipped config is the one that runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgsvc.settings import Settings
from imgsvc.web.server import GunicornServer, default_config


def test_the_shipped_gunicorn_config_is_found_and_applied(tmp_path: Path) -> None:
    config = default_config()
    assert config.is_file(), "config/gunicorn.conf.py must ship as imgsvc.config"
    server = GunicornServer(
        Settings.load({}, file_root=tmp_path), {"bind": "127.0.0.1:0", "workers": None}, config
    )
    assert server.cfg.worker_class_str == "gthread"
    assert server.cfg.threads == 4
    assert server.cfg.timeout == 120
    assert server.cfg.workers >= 2
    assert server.cfg.max_requests == 2000
    assert server.cfg.control_socket_disable  # one path per user, shared by every instance


def test_command_line_options_win_over_the_config_file(tmp_path: Path) -> None:
    options = {"bind": "127.0.0.1:0", "workers": 3, "threads": 1}
    server = GunicornServer(Settings.load({}, file_root=tmp_path), options, default_config())
    assert (server.cfg.workers, server.cfg.threads) == (3, 1)


def test_a_missing_config_file_stops_serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from imgsvc.web import server

    monkeypatch.setenv("IMGSVC_GUNICORN_CONFIG", str(tmp_path / "nowhere.conf.py"))
    with pytest.raises(SystemExit, match="no gunicorn config"):
        server.run(Settings.load({}, file_root=tmp_path), "127.0.0.1", 0)


def test_the_config_found_is_the_one_beside_this_package() -> None:
    """Not another tree's: an editable install elsewhere must not lend its config."""
    import imgsvc

    package = Path(imgsvc.__file__).resolve().parent
    assert default_config().resolve() in (
        package.parent / "config" / "gunicorn.conf.py",
        package / "config" / "gunicorn.conf.py",
    )


def test_the_wheel_ships_every_package_and_the_config() -> None:
    """pyproject.toml lists the packages by hand (config/ is mapped into the package);
    a subpackage missing from that list would be missing from every wheel."""
    import tomllib

    root = Path(__file__).resolve().parents[2]
    tool = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(root).parts) for init in root.glob("imgsvc/**/__init__.py")
    }
    assert set(tool["packages"]) == on_disk | {"imgsvc.config"}
    config = root / tool["package-dir"]["imgsvc.config"]
    assert (config / "gunicorn.conf.py").is_file() and (config / "__init__.py").is_file()
    assert "gunicorn.conf.py" in tool["package-data"]["imgsvc.config"]
