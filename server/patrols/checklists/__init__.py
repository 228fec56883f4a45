"""Checklist template data files (<name>.v<version>.toml); read by server.patrols.templates."""
