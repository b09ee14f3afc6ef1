"""Authentication: token verification and rate limits (grows with the server)."""
