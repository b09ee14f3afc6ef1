"""The aiohttp server: app, settings, command line."""
