"""Staff accounts, login tokens, roles and building scope."""
