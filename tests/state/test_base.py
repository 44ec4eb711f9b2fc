from __future__ import annotations

import pytest

from replayqa.errors import ConfigError
from replayqa.state import NullBackend, StartState, is_test_database_name, open_state
from replayqa.state.base import ColumnRedaction


@pytest.mark.parametrize("name", ["shop_test", "QA", "replayqa-demo.db", "test.db"])
def test_names_that_mark_a_test_database(name):
    assert is_test_database_name(name)


@pytest.mark.parametrize(
    "name", ["shop", "production.db", "main", "latest_prod.db", "contest_live.db", "aqua"]
)
def test_names_that_do_not(name):
    assert not is_test_database_name(name)


@pytest.mark.parametrize("name", ["shopTest", "QA-shop", "orders.test.sqlite3", "e2e_replayqa_1"])
def test_the_words_may_stand_anywhere_in_any_case_style(name):
    assert is_test_database_name(name)


def test_the_words_can_be_configured(tmp_path):
    assert is_test_database_name("shop_staging", ("staging",))
    assert not is_test_database_name("shop_test", ("staging",))
    (tmp_path / "production.db").touch()
    backend = open_state(f"sqlite:///{tmp_path / 'production.db'}", test_words=["production"])
    backend.check_restore_allowed()  # no error: "production" is a test word here


@pytest.mark.parametrize("words", [[], ["two words"], ["shop_test"]])
def test_test_words_must_be_single_words(words):
    with pytest.raises(ConfigError, match="test_database_words"):
        open_state("none", test_words=words)


def test_unknown_scheme_names_the_supported_ones():
    with pytest.raises(
        ConfigError, match=r"unknown database URL scheme 'oracle'.*sqlite:///.*postgresql://.*mysql://"
    ):
        open_state("oracle://localhost/shop_test")


def test_a_mysql_url_without_a_database_says_how_to_write_one():
    with pytest.raises(
        ConfigError, match=r"no database in MySQL URL .*mysql://user:password@host:3306/dbname"
    ):
        open_state("mysql://qa@localhost")


@pytest.mark.parametrize("url", [None, "", "none"])
def test_no_url_means_context_only(url):
    assert isinstance(open_state(url), NullBackend)


def test_a_postgresql_connection_error_names_the_host_and_port_on_one_line():
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = open_state(f"postgresql://qa@127.0.0.1:{port}/shop_test")
    with pytest.raises(ConfigError) as caught:
        backend.connect()
    message = str(caught.value)
    assert f'"127.0.0.1", port {port}' in message and "Connection refused" in message
    assert "\t" not in message and "\n" not in message and message.endswith("check --db")


def test_captured_columns_are_secret_by_the_field_rules_and_password_hashes_stay():
    redact = ColumnRedaction(lambda value: "[redacted]")
    assert all(redact.wants(c) for c in ("password", "jwt", "session_id", "private_key", "credentials"))
    assert not any(redact.wants(c) for c in ("email", "passenger_count", "author_id"))
    bcrypt, digest = "$2b$12$" + "a" * 53, "b630f5d579dfef28c45ddf5e3c7a65f09ebca4d5b064a70c4203578c8667fdeb"
    assert redact.replace("hunter2-plain", "password") == "[redacted]"
    assert redact.replace(bcrypt, "password") == bcrypt
    assert redact.replace(digest, "password_hash") == digest  # a replay logs in with it
    assert redact.replace(digest, "api_token") == "[redacted]"  # hex, but a token's
    assert redact.replace_in("s3cr3t-value", "pin_code", json_column=False, length=8) == "********"
    assert redact.replace_in("s3cr3t-value", "credentials", json_column=True, length=None) == '"[redacted]"'


class Calls:
    """A backend that only notes what it was asked."""

    def __init__(self, connected=True):
        self.calls, self.connected = [], connected

    def checkpoint(self, name):
        self.calls.append(("checkpoint", name))

    def rollback(self, name):
        self.calls.append(("rollback", name))

    def release(self, name):
        self.calls.append(("release", name))

    def is_connected(self):
        return self.connected


def test_runs_from_a_start_state_roll_back_before_all_but_the_first():
    backend = Calls()
    with StartState(backend, "s") as start:
        for _ in range(3):
            start.before_run()
    assert backend.calls == [("checkpoint", "s"), ("rollback", "s"), ("rollback", "s"), ("release", "s")]


def test_a_start_state_is_released_when_a_run_fails_and_not_when_disconnected():
    backend = Calls()
    with pytest.raises(RuntimeError), StartState(backend, "s") as start:
        start.before_run()
        raise RuntimeError("the app went away")
    assert backend.calls[-1] == ("release", "s")
    gone = Calls(connected=False)
    with StartState(gone, "s"):
        pass
    assert gone.calls == [("checkpoint", "s")]


def test_a_start_state_without_a_database_or_disabled_does_nothing():
    backend = Calls()
    for start in (StartState(NullBackend(), "s"), StartState(backend, "s", enabled=False)):
        with start:
            start.before_run()
            start.before_run()
    assert backend.calls == []
