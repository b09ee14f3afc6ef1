"""One module per scenario family; each function runs one scenario and returns its figures."""
