"""The pm benchmark suite: `python -m bench` (full) and `python -m bench --quick`."""
