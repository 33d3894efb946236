"""The ``skdigits`` command-line tool: one module per command, wired in :mod:`.main`."""
