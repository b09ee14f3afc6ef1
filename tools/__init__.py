"""Development tools that ``make`` runs; not part of the installed ``pm`` package.

They may import every layer (the layer contracts in ``pyproject.toml`` cover
the ``pm_*`` packages only): a generator that reads the storage registry, the
schema and the command line's parsers at once lives here.
"""
