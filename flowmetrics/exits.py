"""Exit codes of the `flowmetrics` command (docs/contract.md §5) and the error that means 1.

A module of its own so the parser (`cli`), the subcommands (`commands`) and the demo can all
name them without importing one another in a circle.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class RunFailed(RuntimeError):
    """A run that failed; the message is shown to the user as is."""
