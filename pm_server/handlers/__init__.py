"""Command handlers, one module per aggregate; `pm_server.dispatch` lists them all."""
