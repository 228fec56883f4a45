"""Logs, metrics, health and readiness."""
