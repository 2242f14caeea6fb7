"""Built-in sandbox: a faithful local JIRA (Cloud / Data Center) and ServiceNow simulator.

``from sandbox import Sandbox`` is the public entry point; ``sandbox.serve.main`` backs the
``flowmetrics sandbox`` command. See docs/sandbox.md.
"""

from sandbox.sandbox import Sandbox

__all__ = ["Sandbox"]
