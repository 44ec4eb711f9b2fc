"""Every error replayqa raises on purpose.

::

    ReplayqaError                 one line for the user: what is wrong and how to fix it
    ├── ConfigError               bad flags, settings or URLs            (CLI exit 2)
    ├── JourneyError              a journey that cannot run as written   (CLI exit 2)
    │   └── TemplateError         a {{ reference }} that names nothing
    ├── AppUnreachableError       the app under test does not answer     (CLI exit 2)
    ├── ReplayError               a recording that cannot do what was asked (CLI exit 2)
    └── StateError                the database state backend failed      (CLI exit 2)
        ├── UnsafeDatabaseError   restore/reset refused: not a test database
        └── RestoreBlockedError   something holds locks a restore needs

A failing step is not an error: it becomes an Issue in the results.
"""

from __future__ import annotations


class ReplayqaError(Exception):
    """Base class. ``str(error)`` is a complete one-line message for the user."""


class ConfigError(ReplayqaError):
    pass


class JourneyError(ReplayqaError):
    pass


class TemplateError(JourneyError):
    pass


class AppUnreachableError(ReplayqaError):
    pass


class ReplayError(ReplayqaError):
    pass


class StateError(ReplayqaError):
    pass


class UnsafeDatabaseError(StateError):
    pass


class RestoreBlockedError(StateError):
    pass
