"""What the tests and the benchmarks stand on, in one package: the loopback replay of
the site (``replay``), the reference mirror and its expected crawl (``reference``,
``pages``), synthetic mirrors and archives of any size (``mirror``, ``synthetic``),
the ``pdarchive`` command as a user runs it (``cli``), the servers a test starts
(``serving``, ``redis_server``, ``browser``), what a test reads out of an archive
(``checks``, ``oracle``, ``old_schemas``) and the mounts of the machine-fault tests
(``mounts``). Test modules import from here, never from each other; fixtures are in
``tests/conftest.py``. See docs/ARCHITECTURE.md, "tests/ and bench/"."""
