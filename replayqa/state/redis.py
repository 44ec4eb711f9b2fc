"""Redis as an extra store: the keys an app keeps its sessions, carts and queues in.

A checkpoint reads every key matching ``pattern`` with DUMP and its
remaining time to live with PTTL, in one MULTI/EXEC so it is one moment's
state. A rollback, also in one MULTI/EXEC, deletes the matching keys and
puts the checkpoint's back with RESTORE (same value, encoding and remaining
TTL). Redis runs each MULTI/EXEC alone, so the app's clients never see half
a restore. Rolling back to any live checkpoint, in any order, is allowed.

Restores are destructive, so they need a URL whose ``name`` says
test/qa/replayqa: ``redis://127.0.0.1:6379/0?name=cache_test`` (the name is
by default the host and database number). ``allow_restore=True`` also allows
them; the CLI does not pass ``--allow-restore`` on to stores (see
``replayqa.state.combined.open_store``).
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis

from replayqa.errors import ConfigError, StateError, UnsafeDatabaseError
from replayqa.model import DatabaseCapture
from replayqa.state.base import TEST_WORDS, ColumnRedaction, check_capture_backend, is_test_database_name


@dataclass(frozen=True)
class _Key:
    dump: bytes
    ttl_ms: int  # 0: no expiry


class RedisStore:
    def __init__(
        self,
        url: str,
        *,
        allow_restore: bool = False,
        pattern: str = "*",
        test_words: Sequence[str] = TEST_WORDS,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ConfigError(f"not a Redis URL: {url!r}; use redis://host:6379/0")
        query = dict(parse_qsl(parts.query))
        where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or '/0'}"
        self.name = query.pop("name", f"redis {where}")
        self._marked_example = f"{parts.scheme}://{where}?name=cache_test"
        self.pattern = query.pop("pattern", pattern)
        self.url = urlunsplit(parts._replace(query=urlencode(query)))
        self.allow_restore = allow_restore
        self.test_words = tuple(test_words)
        self._client: redis.Redis | None = None
        self._checkpoints: dict[str, dict[bytes, _Key]] = {}

    # -- protocol ------------------------------------------------------------

    def connect(self) -> None:
        try:
            client = redis.Redis.from_url(self.url, socket_timeout=10)
            client.ping()
        except (redis.RedisError, ValueError) as exc:
            raise ConfigError(f"cannot connect to Redis ({exc}): check --store") from exc
        self._client = client

    def disconnect(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._checkpoints.clear()

    def is_connected(self) -> bool:
        return self._client is not None

    def checkpoint(self, name: str) -> None:
        self._checkpoints[name] = self._read()

    def rollback(self, name: str) -> None:
        self.check_restore_allowed()
        keys = self._checkpoints.get(name)
        if keys is None:
            raise StateError(f"no checkpoint named {name!r} to restore; taken: {sorted(self._checkpoints)}")
        self._write(keys)

    def release(self, name: str) -> None:
        self._checkpoints.pop(name, None)

    def reset(self) -> None:
        self.check_restore_allowed()
        self._write({})

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        raise StateError("invariants query the --db database, not a Redis store")

    def check_restore_allowed(self) -> None:
        if self.allow_restore or is_test_database_name(self.name, self.test_words):
            return
        raise UnsafeDatabaseError(
            f"refusing to restore Redis store {self.name!r} (a restore replaces every key matching "
            f"{self.pattern!r}): if it is a test store, mark it so in its URL: {self._marked_example}"
        )

    def capture(self, redact: ColumnRedaction | None = None) -> DatabaseCapture:
        """Every matching key's DUMP (to restore) and its value as text (to compare).

        A key whose name looks like a credential (``redact``) keeps a placeholder
        for its value and no DUMP, which would hold the secret: it is compared,
        but not restored.
        """
        keys = self._read()
        client = self._require()
        document = {
            key.decode("utf-8", "replace"): {
                "dump": entry.dump.hex(),
                "ttl_ms": entry.ttl_ms,
                "value": _readable(client, key),
            }
            for key, entry in sorted(keys.items())
        }
        if redact is not None:
            for key, entry in document.items():
                if redact.wants(key):
                    entry["value"] = redact.replace(json.dumps(entry["value"]), key)
                    entry["dump"] = None
        payload = zlib.compress(json.dumps({"format": 1, "keys": document}).encode("utf-8"), 6)
        return DatabaseCapture("redis", payload, {"redis": len(document)}, time.time())

    def restore_capture(
        self, capture: DatabaseCapture, *, drop: Collection[str] = (), create: Collection[str] = ()
    ) -> None:
        check_capture_backend(capture, "redis")
        self.check_restore_allowed()
        document = json.loads(zlib.decompress(capture.data))["keys"]
        self._write(
            {
                key.encode("utf-8"): _Key(bytes.fromhex(entry["dump"]), int(entry["ttl_ms"]))
                for key, entry in document.items()
                if entry["dump"] is not None  # a redacted credential
            }
        )

    # -- plumbing ------------------------------------------------------------

    def _require(self) -> redis.Redis:
        if self._client is None:
            raise StateError("the Redis store is not connected")
        return self._client

    def _read(self) -> dict[bytes, _Key]:
        client = self._require()
        try:
            names = list(client.scan_iter(match=self.pattern, count=1000))
            pipe = client.pipeline(transaction=True)
            for key in names:
                pipe.dump(key)
                pipe.pttl(key)
            answers = pipe.execute()
        except redis.RedisError as exc:
            raise StateError(f"could not read the Redis keys: {exc}") from exc
        keys = {}
        for index, key in enumerate(names):
            dump, ttl = answers[2 * index], answers[2 * index + 1]
            if dump is not None and ttl != -2:  # -2: expired meanwhile
                keys[key] = _Key(dump, max(ttl, 0))
        return keys

    def _write(self, keys: dict[bytes, _Key]) -> None:
        client = self._require()
        try:
            current = list(client.scan_iter(match=self.pattern, count=1000))
            pipe = client.pipeline(transaction=True)
            if current:
                pipe.delete(*current)
            for key, entry in keys.items():
                pipe.restore(key, entry.ttl_ms, entry.dump, replace=True)
            pipe.execute()
        except redis.RedisError as exc:
            raise StateError(f"could not restore the Redis keys: {exc}") from exc


def _readable(client: redis.Redis, key: bytes) -> Any:
    kind = client.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind == "string":
        value: Any = client.get(key)
    elif kind == "hash":
        value = {_str(k): _str(v) for k, v in sorted(client.hgetall(key).items())}
    elif kind == "list":
        value = [_str(v) for v in client.lrange(key, 0, -1)]
    elif kind == "set":
        value = sorted(_str(v) for v in client.smembers(key))
    elif kind == "zset":
        pairs: list[Any] = list(client.zrange(key, 0, -1, withscores=True))
        value = [[_str(member), score] for member, score in pairs]
    else:
        return f"<{kind}>"
    return _str(value) if isinstance(value, bytes) else value


def _str(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def capture_rows(capture: DatabaseCapture) -> dict[str, dict[str, dict[str, Any]]]:
    """A capture as rows: one table, ``redis``, keyed by key, with the value and whether it expires."""
    document = json.loads(zlib.decompress(capture.data))["keys"]
    return {
        "redis": {
            key: {"value": json.dumps(entry["value"], sort_keys=True), "expires": entry["ttl_ms"] > 0}
            for key, entry in document.items()
        }
    }
