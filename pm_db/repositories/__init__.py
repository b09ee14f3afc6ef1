"""Repositories: one class per aggregate, handed the unit of work's connection."""
