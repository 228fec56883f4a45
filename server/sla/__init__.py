"""SLA clocks as data, breaches, and the escalation ladder (no web framework outside routes.py)."""
