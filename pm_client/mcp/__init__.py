"""The board as a Model Context Protocol server (``pm mcp``): tools from the commands' schema."""
