import pytest

from replayqa.config import Settings, load_settings
from replayqa.errors import ConfigError


def test_defaults_without_a_config_file(tmp_path):
    assert load_settings(tmp_path) == Settings()


def test_pyproject_tool_table(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.replayqa]\nbase_url = "http://127.0.0.1:8000"\n'
        'db = "sqlite:///app_test.db"\nexclude_tables = ["audit"]\njourneys = "qa"\n'
    )
    nested = tmp_path / "sub"
    nested.mkdir()
    settings = load_settings(nested)
    assert settings.base_url == "http://127.0.0.1:8000" and settings.exclude_tables == ["audit"]
    assert settings.journeys == [str(tmp_path / "qa")]  # relative to the config file
    assert settings.source == str(tmp_path / "pyproject.toml")


def test_replayqa_toml_wins_over_pyproject_in_the_same_folder(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.replayqa]\nbase_url = "http://a"\n')
    (tmp_path / "replayqa.toml").write_text('base_url = "http://b"\n')
    assert load_settings(tmp_path).base_url == "http://b"


def test_flags_override_settings_only_when_given():
    settings = Settings(base_url="http://a", db="sqlite:///x_test.db")
    changed = settings.override(base_url="http://b", db=None, allow_restore=True)
    assert (changed.base_url, changed.db, changed.allow_restore) == ("http://b", "sqlite:///x_test.db", True)


def test_unknown_settings_and_bad_toml_are_errors(tmp_path):
    (tmp_path / "replayqa.toml").write_text('base_ur = "x"\n')
    with pytest.raises(ConfigError, match="unknown setting 'base_ur'"):
        load_settings(tmp_path)
    (tmp_path / "replayqa.toml").write_text("base_url = \n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(tmp_path)


def test_stores_are_a_list_and_one_url_will_do(tmp_path):
    (tmp_path / "replayqa.toml").write_text('stores = "redis://127.0.0.1:6379/0?name=cache_test"\n')
    assert load_settings(tmp_path).stores == ["redis://127.0.0.1:6379/0?name=cache_test"]
    (tmp_path / "replayqa.toml").write_text('stores = ["redis://a/0?name=cache_test", "redis://b/1"]\n')
    assert load_settings(tmp_path).stores == ["redis://a/0?name=cache_test", "redis://b/1"]


def test_upstream_tls_files_are_relative_to_the_config_and_one_range_is_a_list(tmp_path):
    (tmp_path / "replayqa.toml").write_text(
        'upstream_ca = "certs/staging-ca.pem"\nclient_cert = "certs/me.pem"\n'
        'upstream_insecure = false\nallow_client = "192.168.1.0/24"\n'
    )
    (tmp_path / "sub").mkdir()
    settings = load_settings(tmp_path / "sub")
    assert settings.upstream_ca == str(tmp_path / "certs" / "staging-ca.pem")
    assert settings.client_cert == str(tmp_path / "certs" / "me.pem")
    assert settings.allow_client == ["192.168.1.0/24"] and settings.upstream_insecure is False
