"""How many results one page may hold, for every caller: socket, MCP, CLI, similar search.

Its own module, free of SQLAlchemy, so the CLI can read the bounds without the import cost.
"""
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
