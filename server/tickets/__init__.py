"""Tickets: every alarm and request, with its deadlines and an append-only audit trail."""
