"""The aiohttp server: app, settings, command line."""

__version__ = "0.1.0"
