"""The shared frontier of a distributed crawl, in Redis: what workers, ``pdarchive seed``,
``pdarchive ingest`` and ``pdarchive status`` agree on.

No Scrapy here (``ingest`` and ``status`` run without it); the Scrapy side is
``crawler/distributed.py``. Every key lives under ``pdarchive:``; one crawl per Redis
database (choose the database with the URL's path, ``redis://host:6379/2``).

=========================  ======  ==================================================
key                        type    holds
=========================  ======  ==================================================
``requests``               ZSET    scrapy-redis's request queue (its PriorityQueue)
``dupefilter``             SET     scrapy-redis's duplicate filter: every request of the job
``inflight``               HASH    ``worker|token`` → ``score\\nrequest``: requests a worker
                                   took from ``requests`` and has not finished
``heartbeats``             ZSET    live worker → Redis server time of its last heartbeat
``workers``                HASH    worker → JSON: host, pid, state, counts, last_seen
``job``                    STRING  JSON: the job ``pdarchive seed`` started
``known``                  SET     article ids archived when the job was seeded
``backing_off``            SET     article ids whose failures still wait out their backoff
``walks``                  HASH    column → ``1`` (its list walk reached the end or known
                                   articles) or ``0`` (it did not)
``counts``                 HASH    ``requests``: downloads of the job's acknowledged requests
``items``                  LIST    finished items, JSON (workers push left, ingest takes right)
``items:processing``       LIST    the item ingest is writing
``items:dead``             LIST    the dead letters: items ingest could not read or write,
                                   each JSON: ``reason``, ``at``, ``ingest``, ``id``, ``job``,
                                   ``url`` and the item itself (``item``, or ``item_base64``)
``ingester``               STRING  the running ingest (expires unless refreshed)
``finished``               STRING  id of the last job ingest finished
=========================  ======  ==================================================

Taking a request and recording it in flight is one Lua script, so a request is always
in exactly one of ``requests`` and ``inflight`` until its worker acknowledges it. A
worker whose heartbeat is older than the job's ``dead_after`` is dead: ``reap`` puts
its in-flight requests back into ``requests`` (past the duplicate filter, which has
seen them), also atomically. Times are the Redis server's, so machines' clocks may
disagree.
"""

from __future__ import annotations

import base64
import json
import pickle
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import redis

PREFIX = "pdarchive:"
REQUESTS = PREFIX + "requests"
DUPEFILTER = PREFIX + "dupefilter"
INFLIGHT = PREFIX + "inflight"
HEARTBEATS = PREFIX + "heartbeats"
WORKERS = PREFIX + "workers"
JOB = PREFIX + "job"
KNOWN = PREFIX + "known"
BACKING_OFF = PREFIX + "backing_off"
WALKS = PREFIX + "walks"
COUNTS = PREFIX + "counts"
ITEMS = PREFIX + "items"
PROCESSING = PREFIX + "items:processing"
DEAD = PREFIX + "items:dead"
INGESTER = PREFIX + "ingester"
FINISHED = PREFIX + "finished"

#: the keys a new job starts without (the queue and in-flight hash are empty by then)
JOB_KEYS = (DUPEFILTER, WORKERS, HEARTBEATS, KNOWN, BACKING_OFF, WALKS, COUNTS, FINISHED)

_SERVER_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS: requests, inflight, heartbeats; ARGV: worker, token
_POP = _SERVER_NOW + """
local top = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
redis.call('ZADD', KEYS[3], now, ARGV[1])
if #top == 0 then return false end
redis.call('ZREM', KEYS[1], top[1])
redis.call('HSET', KEYS[2], ARGV[1] .. '|' .. ARGV[2], top[2] .. '\\n' .. top[1])
return top[1]
"""

# KEYS: heartbeats, workers; ARGV: worker, info (JSON object)
_HEARTBEAT = _SERVER_NOW + """
local info = cjson.decode(ARGV[2])
info['last_seen'] = now
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(info))
return tostring(now)
"""

# KEYS: heartbeats, inflight, requests, workers
# ARGV: dead_after (seconds), state to record, and optionally the one worker to release
# whatever its heartbeat. Returns {worker, requests put back, ...}.
_REQUEUE = _SERVER_NOW + """
local gone
if ARGV[3] then
  gone = {ARGV[3]}
else
  gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[1])))
end
if #gone == 0 then return {} end
local requeued = {}
for _, worker in ipairs(gone) do requeued[worker] = 0 end
local entries = redis.call('HGETALL', KEYS[2])
for i = 1, #entries, 2 do
  local field = entries[i]
  local worker = string.sub(field, 1, string.find(field, '|', 1, true) - 1)
  if requeued[worker] ~= nil then
    local value = entries[i + 1]
    local newline = string.find(value, '\\n', 1, true)
    redis.call('ZADD', KEYS[3], string.sub(value, 1, newline - 1), string.sub(value, newline + 1))
    redis.call('HDEL', KEYS[2], field)
    requeued[worker] = requeued[worker] + 1
  end
end
local result = {}
for _, worker in ipairs(gone) do
  redis.call('ZREM', KEYS[1], worker)
  local raw = redis.call('HGET', KEYS[4], worker)
  if raw then
    local info = cjson.decode(raw)
    info['state'] = ARGV[2]
    info['in_flight'] = 0
    info['requeued'] = (info['requeued'] or 0) + requeued[worker]
    redis.call('HSET', KEYS[4], worker, cjson.encode(info))
  end
  table.insert(result, worker)
  table.insert(result, requeued[worker])
end
return result
"""

# KEYS: ingester; ARGV: owner, ttl seconds. Refresh our lock, or take a free one.
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return holder end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
"""

# KEYS: ingester; ARGV: owner
_LET_GO = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""


class FrontierError(Exception):
    """Redis cannot be reached or used; the message is for the user."""


class JobRunning(FrontierError):
    """A job is still being crawled or ingested: a new one may not start yet."""


@dataclass(frozen=True)
class Snapshot:
    """The frontier's counts, read in one atomic step."""

    queued: int
    in_flight: int
    items: int
    processing: int
    dead: int
    seen: int

    @property
    def drained(self) -> bool:
        """Nothing left to fetch, being fetched, or waiting to be written.

        Workers push a request's items and follow-up requests before they acknowledge
        it, so this is never true while any of the job's work remains.
        """
        return not (self.queued or self.in_flight or self.items or self.processing)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Frontier:
    """A client of the shared frontier."""

    def __init__(self, client: redis.Redis, url: str = "") -> None:
        self.client = client
        self.url = url
        self._pop = client.register_script(_POP)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._requeue = client.register_script(_REQUEUE)
        self._hold = client.register_script(_HOLD)
        self._let_go = client.register_script(_LET_GO)

    @classmethod
    def connect(cls, url: str) -> Frontier:
        """Connect to ``url`` (``redis://HOST:PORT/DB``) and check that Redis answers."""
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=10, socket_timeout=60,
                                          health_check_interval=30)
            client.ping()
        except ValueError as error:
            raise FrontierError(f"not a Redis URL: {url} ({error})") from error
        except redis.RedisError as error:
            raise FrontierError(f"cannot reach Redis at {url}: {error}") from error
        return cls(client, url)

    # -- the job ------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        pipe = self.client.pipeline(transaction=True)
        pipe.zcard(REQUESTS)
        pipe.hlen(INFLIGHT)
        for name in (ITEMS, PROCESSING, DEAD):
            pipe.llen(name)
        pipe.scard(DUPEFILTER)
        return Snapshot(*(int(value) for value in pipe.execute()))

    def job(self) -> dict[str, Any] | None:
        raw = self.client.get(JOB)
        return json.loads(raw) if raw else None

    def finished_job(self) -> str | None:
        raw = self.client.get(FINISHED)
        return _text(raw) if raw else None

    def mark_finished(self, job_id: str) -> None:
        self.client.set(FINISHED, job_id)

    def start_job(self, job: dict[str, Any], requests: Iterable[tuple[float, bytes]],
                  fingerprints: Iterable[str], known: Iterable[str],
                  backing_off: Iterable[str]) -> None:
        """Replace the finished job with ``job`` and its first requests, atomically.

        Raises JobRunning while the previous job still has work queued, in flight or
        waiting for ingest. The duplicate filter is per job: a new job may fetch again
        what the last one fetched (a failed page, a --full crawl).
        """
        with self.client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(REQUESTS, INFLIGHT, ITEMS, PROCESSING)
                if not self._drained(pipe):
                    raise JobRunning(self._busy_message())
                pipe.multi()
                pipe.delete(*JOB_KEYS)
                for name, members in ((KNOWN, known), (BACKING_OFF, backing_off),
                                      (DUPEFILTER, fingerprints)):
                    for chunk in _chunks(members):
                        pipe.sadd(name, *chunk)
                for chunk in _chunks(requests):
                    # ZADD's arguments are score, member pairs
                    pipe.execute_command("ZADD", REQUESTS,
                                         *(value for pair in chunk for value in pair))
                pipe.set(JOB, json.dumps(job, ensure_ascii=False))
                pipe.execute()
            except redis.WatchError:
                raise JobRunning("the frontier changed while seeding; run it again") from None

    def _drained(self, pipe: Any) -> bool:
        return not any((pipe.zcard(REQUESTS), pipe.hlen(INFLIGHT), pipe.llen(ITEMS),
                        pipe.llen(PROCESSING)))

    def _busy_message(self) -> str:
        now = self.snapshot()
        job = self.job() or {}
        return (f"job {job.get('id', '?')} is still running ({now.queued} requests queued, "
                f"{now.in_flight} in flight, {now.items + now.processing} items waiting for "
                "ingest): let it drain (`pdarchive status`) before seeding another")

    def members(self, name: str) -> set[str]:
        return {_text(member) for member in cast(set[bytes], self.client.smembers(name))}

    def walks(self) -> dict[str, bool]:
        raw = cast(dict[bytes, bytes], self.client.hgetall(WALKS))
        return {_text(column): value == b"1" for column, value in raw.items()}

    def report_walk(self, column: str, complete: bool, *, overwrite: bool = True) -> None:
        if overwrite:
            self.client.hset(WALKS, column, "1" if complete else "0")
        else:
            self.client.hsetnx(WALKS, column, "1" if complete else "0")

    # -- workers ------------------------------------------------------------------

    def pop(self, worker: str, token: str) -> bytes | None:
        """The next request (highest priority first), now in ``worker``'s in-flight set."""
        return cast(bytes | None, self._pop(keys=[REQUESTS, INFLIGHT, HEARTBEATS],
                                            args=[worker, token]))

    def ack(self, worker: str, tokens: Iterable[str], downloads: int = 0) -> None:
        """Let go of finished requests, counting the ``downloads`` made since the last
        acknowledgement with them: once the job drains, the count is exact."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(INFLIGHT, *(f"{worker}|{token}" for token in tokens))
        if downloads:
            pipe.hincrby(COUNTS, "requests", downloads)
        pipe.execute()

    def requests(self) -> int:
        """Downloads the job's workers made (robots.txt and retries included)."""
        return int(self.client.hget(COUNTS, "requests") or 0)

    def heartbeat(self, worker: str, info: dict[str, Any]) -> None:
        self._heartbeat(keys=[HEARTBEATS, WORKERS], args=[worker, json.dumps(info)])

    def reap(self, dead_after: float) -> dict[str, int]:
        """Put the in-flight requests of workers silent for ``dead_after`` seconds back
        into the queue; returns worker → requests put back."""
        return self._requeue_of(self._requeue(
            keys=[HEARTBEATS, INFLIGHT, REQUESTS, WORKERS], args=[dead_after, "dead"]))

    def release(self, worker: str) -> int:
        """A worker leaving: whatever it still holds goes back into the queue."""
        requeued = self._requeue_of(self._requeue(
            keys=[HEARTBEATS, INFLIGHT, REQUESTS, WORKERS], args=[0, "exited", worker]))
        return requeued.get(worker, 0)

    @staticmethod
    def _requeue_of(result: list[Any]) -> dict[str, int]:
        return {_text(result[i]): int(result[i + 1]) for i in range(0, len(result), 2)}

    def workers(self) -> list[dict[str, Any]]:
        """Every worker seen in this job, with ``age`` (seconds since its last sign of
        life) and ``in_flight`` (requests it holds now), longest-lived first."""
        pipe = self.client.pipeline(transaction=True)
        pipe.time()
        pipe.hgetall(WORKERS)
        pipe.hkeys(INFLIGHT)
        (seconds, micros), raw, fields = pipe.execute()
        now = seconds + micros / 1e6
        holding: dict[str, int] = {}
        for field in fields:
            worker = _text(field).split("|", 1)[0]
            holding[worker] = holding.get(worker, 0) + 1
        workers = []
        for worker, info in raw.items():
            record = {"id": _text(worker), **json.loads(info)}
            record["age"] = max(0.0, now - float(record.get("last_seen") or now))
            record["in_flight"] = holding.get(record["id"], 0)
            workers.append(record)
        return sorted(workers, key=lambda record: str(record.get("started_at", "")))

    def in_flight_urls(self) -> dict[str, list[str]]:
        """worker → the URLs it holds. Unpickles the requests, as the workers do: only
        for a Redis you trust (the frontier's requests are pickles, scrapy-redis's format)."""
        holding: dict[str, list[str]] = {}
        raw = cast(dict[bytes, bytes], self.client.hgetall(INFLIGHT))
        for field, value in raw.items():
            request = pickle.loads(value.split(b"\n", 1)[1])
            holding.setdefault(_text(field).split("|", 1)[0], []).append(request["url"])
        return holding

    # -- items --------------------------------------------------------------------

    def push_item(self, data: bytes) -> None:
        self.client.lpush(ITEMS, data)

    def take_item(self, timeout: float) -> bytes | None:
        """The oldest waiting item, moved to ``items:processing`` until acknowledged."""
        return cast(bytes | None, self.client.blmove(ITEMS, PROCESSING, timeout,  # type: ignore[arg-type]
                                                     "RIGHT", "LEFT"))

    def processing(self) -> list[bytes]:
        """Items taken but not acknowledged: left by an ingest that stopped."""
        return list(reversed(cast(list[bytes], self.client.lrange(PROCESSING, 0, -1))))

    def ack_item(self, data: bytes) -> None:
        self.client.lrem(PROCESSING, 1, data)  # type: ignore[arg-type]

    def dead_letter(self, data: bytes, letter: dict[str, Any]) -> None:
        """Move an item ingest cannot read or write from ``items:processing`` to the
        dead letters, with ``letter`` (its reason, …) and the item itself, in one step."""
        try:
            letter = {**letter, "item": data.decode("utf-8")}
        except UnicodeDecodeError:
            letter = {**letter, "item_base64": base64.b64encode(data).decode("ascii")}
        pipe = self.client.pipeline(transaction=True)
        pipe.lpush(DEAD, json.dumps(letter, ensure_ascii=False))
        pipe.lrem(PROCESSING, 1, data)  # type: ignore[arg-type]
        pipe.execute()

    def dead_letters(self) -> list[dict[str, Any]]:
        """The dead letters, oldest first."""
        return [json.loads(raw) for raw in reversed(
            cast(list[bytes], self.client.lrange(DEAD, 0, -1)))]

    # -- the one ingest -----------------------------------------------------------

    def hold_ingest(self, owner: str, ttl: int) -> str | None:
        """Take or refresh the ingest lock; returns the other holder if there is one."""
        holder = self._hold(keys=[INGESTER], args=[owner, ttl])
        return _text(holder) if holder else None

    def ingester(self) -> str | None:
        raw = self.client.get(INGESTER)
        return _text(raw) if raw else None

    @contextmanager
    def ingest_lock(self, owner: str, ttl: int) -> Iterator[None]:
        """Be the one ingest. A lock left by an ingest that was killed expires within
        ``ttl`` seconds: wait that long before concluding another one is running."""
        deadline = time.monotonic() + ttl + 1
        while (holder := self.hold_ingest(owner, ttl)) is not None:
            if time.monotonic() > deadline:
                raise IngestRunning(f"another ingest ({holder}) is writing this frontier's "
                                    "items")
            time.sleep(0.5)
        try:
            yield
        finally:
            self._let_go(keys=[INGESTER], args=[owner])


class IngestRunning(FrontierError):
    """Another ``pdarchive ingest`` holds the frontier."""


def _chunks(values: Iterable[Any], size: int = 5000) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
