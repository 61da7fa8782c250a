"""What the suites stand on: the pytest plugin (boxes as fixtures), a testinfra backend over
the harness transport, package sets and their install commands, Salt daemons, the conflict map."""
