"""The field suite's CI slice: Kinto, a real third-party app on PostgreSQL, through record, replay and faults.

Kinto is installed pinned from the package registry into the suite's cached
venv and started as a plain process; nothing here is a stand-in. The figures
are the ones `python -m bench.field --apps kinto` prints; the whole corpus,
with synth and Schemathesis, stays in bench/ (docs/field.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.field.apps.kinto import Kinto
from bench.field.env import venv
from bench.field.faults_addon import FAULTS
from bench.field.run import REPLAYS, Context, record_and_replay

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def kinto(postgres, tmp_path_factory) -> dict[str, Any]:
    app = Kinto()
    ctx = Context(tmp_path_factory.mktemp("field"), postgres, budget=0, quick=True, say=lambda _: None)
    return record_and_replay(app, venv(app.name, app.requirements), ctx)


def test_the_scripted_session_is_recorded_whole(kinto):
    assert kinto["exchanges"] == 15


def test_replays_from_the_recorded_state_are_clean(kinto):
    assert kinto["clean"] == REPLAYS, kinto["noise"]


def test_every_planted_fault_that_has_a_target_is_caught(kinto):
    # Kinto's ids are UUID strings, so an int id has nothing to change; the rest all have a target.
    assert kinto["not_applicable"] == ["id_int_to_string"]
    assert kinto["faults"] == len(FAULTS) - 1
    assert kinto["missed"] == [], {fault: kinto["planted"][fault] for fault in kinto["missed"]}
