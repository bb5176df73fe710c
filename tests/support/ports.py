"""Loopback ports for the servers a test starts."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port nothing listens on now. Another process may take it before it
    is used (the tests run in parallel): a server started on it checks that what
    answers there is itself (``RedisServer``); a test that wants a refusal there
    (nothing listening) is wrong only in that rare case."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
