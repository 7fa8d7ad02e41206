"""The files here are checked by mypy (``nox -s typecheck``), never run: pytest skips them."""

collect_ignore_glob = ["test_*.py"]
