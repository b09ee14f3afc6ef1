"""Built-in sign-in: sessions, brute-force limits and the ``/v1/auth/*`` endpoints."""
