"""Pure domain rules: hierarchy, dependencies, sprint transitions, timers, projects.

Each module takes plain values and pm_core models and either returns or raises
an error from :mod:`pm_core.errors`. Nothing here reads a database: callers
load what a rule needs (a parent, the live dependency edges, the active sprint)
and pass it in, which keeps every rule easy to property-test.
"""
