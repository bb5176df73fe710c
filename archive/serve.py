"""``pdarchive serve``: the archive in a web browser, through Datasette, read-only.

The archive is added to Datasette as a mutable file, not an immutable one: a crawl
may be writing it, and ``immutable=1`` would let SQLite skip locking and read pages
mid-change. Datasette opens such a file ``mode=ro`` for every read; the plugin
(archive/datasette_plugin.py) adds ``PRAGMA query_only`` to every connection,
including the write connection Datasette would open for a write canned query, of
which there are none. Readers see committed transactions only (the crawl writes in
WAL mode, one transaction per article), so pages stay correct during a crawl.

Reads open the file as every reading command does (``store.readonly_uri``): ``mode=ro``,
and ``immutable=1`` where SQLite could not create the WAL's side files (an archive on
a read-only filesystem or in a directory this user may not write), so that such an
archive can be served too.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import sys
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import uvicorn
from datasette.app import Datasette
from datasette.database import Database
from datasette.plugins import pm

from crawler.config import load_config

from . import datasette_plugin
from .datasette_plugin import DATABASE, LOOPBACK_HOSTS
from .store import readonly_uri
from .topics import topics_from_config

PACKAGE = resources.files("archive")
SETTINGS = {
    "default_cache_ttl": 0,  # the archive changes under a crawl: never serve stale pages
    "allow_download": False,  # a copy of a file being written would be inconsistent
    "truncate_cells_html": 300,
    "suggest_facets": False,  # JSON columns would be suggested as facets, noisily and slowly
    "sql_time_limit_ms": 3000,
    "facet_time_limit_ms": 1000,
    "default_facet_size": 12,
    "max_returned_rows": 1000,
}


def metadata(allowed_hosts: Iterable[str] = LOOPBACK_HOSTS) -> dict[str, Any]:
    """serve_metadata.json, with the default configuration's column names in
    column_id's description, and the plugin's configuration: column names, topic
    thresholds, the host names it answers for."""
    data: dict[str, Any] = json.loads(PACKAGE.joinpath("serve_metadata.json").read_text("utf-8"))
    config = load_config()
    columns = data["databases"][DATABASE]["tables"]["articles"]["columns"]
    names = ", ".join(f"{column.id} {column.name}" for column in config.columns)
    columns["column_id"] += f" The columns of the default configuration: {names}."
    data["plugins"] = {"pdarchive": {
        "columns": {column.id: column.name for column in config.columns},
        "topics": {topic.name: topic.threshold
                   for topic in topics_from_config(config.extra)},
        "allowed_hosts": sorted({*LOOPBACK_HOSTS, *allowed_hosts}),
    }}
    return data


def host_names(hosts: Iterable[str]) -> set[str]:
    """The names a request may give in its Host header for a server opened on
    ``hosts``: each, and for a wildcard (0.0.0.0, ::) this machine's names and
    addresses."""
    names = set(LOOPBACK_HOSTS)
    for host in hosts:
        if host in ("0.0.0.0", "::", ""):
            hostname = socket.gethostname()
            names |= {hostname, socket.getfqdn()}
            with contextlib.suppress(OSError):
                names |= set(socket.gethostbyname_ex(hostname)[2])
        else:
            names.add(host.strip("[]"))
    return {name.lower() for name in names if name}


class ArchiveDatabase(Database):  # type: ignore[misc]
    """Datasette's mutable file database, its reads opened as pdarchive reads."""

    def connect(self, write: bool = False) -> sqlite3.Connection:
        if write:  # never asked for: no canned query writes
            return super().connect(write=True)
        connection = sqlite3.connect(readonly_uri(Path(self.path)), uri=True,
                                     check_same_thread=False)
        self._all_file_connections.append(connection)  # closed by Database.close()
        return connection


def build(db: Path, allowed_hosts: Iterable[str] = LOOPBACK_HOSTS) -> Datasette:
    """A Datasette serving the archive at ``db`` as ``/archive``, with the plugin,
    answering requests for ``allowed_hosts`` (and loopback)."""
    if not pm.is_registered(datasette_plugin):
        pm.register(datasette_plugin, name="pdarchive")
    datasette = Datasette(
        metadata=metadata(allowed_hosts),
        template_dir=str(PACKAGE.joinpath("templates")),
        static_mounts=[("pdarchive-static", str(PACKAGE.joinpath("static")))],
        settings=SETTINGS,
    )
    datasette.remove_database("_memory")  # added because no file was given to the constructor
    datasette.add_database(ArchiveDatabase(datasette, path=str(db), is_mutable=True),
                           name=DATABASE)
    return datasette


def listen(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port). Raises OSError when it cannot."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def serve(db: Path, sock: socket.socket, hosts: Iterable[str] = ()) -> None:
    """Serve until Ctrl-C (exit 0) or SIGTERM; ``hosts``: what it was opened as
    (--host, --allow-host), the Host headers it answers besides loopback."""
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    print(f"pdarchive: serving {db} read-only at http://{shown_host}:{port}/ "
          "(Ctrl-C to stop)", file=sys.stderr, flush=True)
    config = uvicorn.Config(build(db, host_names(hosts)).app(), log_level="warning",
                            lifespan="on", server_header=False)
    # uvicorn re-raises Ctrl-C once it has shut down: for a server, a normal end
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])
