"""Async client library and command line for pm servers (grows with the server)."""
