"""The `harness` command line, `harness verify` (suites on fresh boxes) and its sign-off report."""
