"""How exchanges are grouped into sessions, and when the database is captured."""

from __future__ import annotations

import pytest

from replayqa.record.sessions import Identity, SessionTracker, request_keys, response_keys


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def captures():
    return []


@pytest.fixture
def tracker(clock, captures):
    def capture(kind):
        def take(group):
            captures.append((kind, group))
            return len(captures)

        return take

    return SessionTracker(
        idle_gap=60, clock=clock, on_group_start=capture("start"), on_group_end=capture("end")
    )


def bearer(token):
    return request_keys([("Authorization", f"Bearer {token}")])


def test_an_anonymous_visitor_who_logs_in_stays_one_session(tracker):
    visitor = tracker.assign(Identity("10.0.0.5"))
    tracker.learn(visitor, response_keys([], {"token": "tok-abc", "user_id": 1}))
    assert tracker.assign(Identity("10.0.0.5", bearer("tok-abc"))) is visitor
    cookie_login = tracker.assign(Identity("10.0.0.9"))
    tracker.learn(cookie_login, response_keys([("Set-Cookie", "sessionid=s3cr3t; Path=/; HttpOnly")], None))
    assert (
        tracker.assign(Identity("10.0.0.9", request_keys([("Cookie", "sessionid=s3cr3t")]))) is cookie_login
    )


def test_different_credentials_are_different_users_even_from_one_address(tracker, captures):
    ada = tracker.assign(Identity("127.0.0.1", bearer("ada-token")))
    bob = tracker.assign(Identity("127.0.0.1", bearer("bob-token")))
    assert ada is not bob
    assert tracker.assign(Identity("127.0.0.1", bearer("ada-token"))) is ada
    # They overlap: one group, one start capture, and both sessions say so.
    assert ada.overlapped and bob.overlapped and ada.group_id == bob.group_id
    assert ada.start_checkpoint_id == bob.start_checkpoint_id == 1
    assert captures == [("start", 1)]


def test_the_end_capture_waits_for_the_last_session_of_a_group(tracker, captures):
    ada = tracker.start_marked("ada", Identity("10.0.0.1"))
    bob = tracker.start_marked("bob", Identity("10.0.0.2"))
    tracker.end_marked(Identity("10.0.0.1"))
    assert captures == [("start", 1)] and ada.end_checkpoint_id is None
    tracker.end_marked(Identity("10.0.0.2"))
    assert captures == [("start", 1), ("end", 1)]
    assert ada.end_checkpoint_id == bob.end_checkpoint_id == 2


def test_an_idle_gap_splits_a_session(tracker, clock, captures):
    first = tracker.assign(Identity("10.0.0.1", bearer("t")))
    clock.now += 30
    assert tracker.assign(Identity("10.0.0.1", bearer("t"))) is first
    clock.now += 61
    second = tracker.assign(Identity("10.0.0.1", bearer("t")))
    assert second is not first
    assert (first.end_reason, first.ended_at) == ("idle", 1030.0)
    assert captures == [("start", 1), ("end", 1), ("start", 2)]
    assert second.start_checkpoint_id == 3 and not second.overlapped


def test_markers_win_over_identities(tracker):
    marked = tracker.start_marked("checkout", Identity("10.0.0.1"))
    assert tracker.assign(Identity("10.0.0.1", bearer("any"))) is marked
    assert tracker.assign(Identity("10.0.0.1")) is marked
    assert tracker.assign(Identity("10.0.0.2")) is not marked  # another client
    ended = tracker.end_marked(Identity("10.0.0.1"))
    assert ended is marked and marked.end_reason == "marker" and marked.exchange_count == 2
    assert tracker.assign(Identity("10.0.0.1")) is not marked


def test_starting_a_marked_session_again_ends_the_previous_one(tracker):
    first = tracker.start_marked("one", Identity("10.0.0.1"))
    second = tracker.start_marked("two", Identity("10.0.0.1"))
    assert not first.open and second.open and second.name == "two"


def test_close_all_ends_every_session(tracker, captures):
    tracker.assign(Identity("a", bearer("1")))
    tracker.assign(Identity("b", bearer("2")))
    tracker.close_all()
    assert all(s.end_reason == "stopped" for s in tracker.sessions)
    assert captures == [("start", 1), ("end", 1)]


def test_only_session_like_cookies_identify_a_user():
    assert request_keys([("Cookie", "theme=dark; lang=en")]) == ()
    assert request_keys([("Cookie", "theme=dark; sid=abc")]) == ("token:abc",)
    assert request_keys([("Cookie", "x=" + "a" * 20)]) == ("token:" + "a" * 20,)


def test_api_key_and_token_headers_identify_a_user(tracker):
    assert request_keys([("X-API-Key", "k-1"), ("X-Request-Id", "r-9")]) == ("token:k-1",)
    assert request_keys([("x-access-token", "t-1")]) == ("token:t-1",)
    phone = tracker.assign(Identity("10.0.0.5", request_keys([("X-Api-Key", "alice-key")])))
    tablet = tracker.assign(Identity("10.0.0.5", request_keys([("X-Api-Key", "bob-key")])))
    assert phone.id != tablet.id  # one address, two users
    assert tracker.assign(Identity("10.0.0.5", request_keys([("X-Api-Key", "alice-key")]))).id == phone.id


def test_a_second_browser_behind_the_same_address_is_a_session_of_its_own(tracker):
    """Browsers send back the cookies they were handed: a request without them is another cookie jar."""
    first = tracker.assign(Identity("127.0.0.1"))
    tracker.learn(first, response_keys([("Set-Cookie", "sid=aaaa1111; Path=/")], None), cookie=True)
    second = tracker.assign(Identity("127.0.0.1"))  # the second browser's first request: no cookies yet
    assert second is not first
    tracker.learn(second, response_keys([("Set-Cookie", "sid=bbbb2222; Path=/")], None), cookie=True)
    assert tracker.assign(Identity("127.0.0.1", request_keys([("Cookie", "sid=aaaa1111")]))) is first
    assert tracker.assign(Identity("127.0.0.1", request_keys([("Cookie", "sid=bbbb2222")]))) is second


def test_a_client_that_was_never_handed_a_cookie_stays_one_session_per_address(tracker):
    """curl or a script with no cookie jar: its cookieless requests are one session, as before."""
    first = tracker.assign(Identity("127.0.0.1"))
    tracker.learn(first, response_keys([], {"token": "tok-xyz"}))  # a token in the body is no cookie
    assert tracker.assign(Identity("127.0.0.1")) is first
