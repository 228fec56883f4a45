"""Devices of the estate and the raw events they report."""
