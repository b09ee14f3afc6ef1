"""The client side of the ``pm`` command line: ``pm project``, ``pm item``, ... ``pm watch``.

``pm_server.cli`` builds the ``pm`` parser, calls :func:`register` to add
these commands and hands any of :data:`COMMANDS` to :func:`run`. See
:mod:`pm_client.cli.runner`.
"""

from pm_client.cli.runner import COMMANDS, register, run

__all__ = ["COMMANDS", "register", "run"]
