"""pm domain: plain data and rules. No I/O, nothing async."""
