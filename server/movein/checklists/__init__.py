"""Move-in checklist template data files (<name>.v<version>.toml); read by server.movein.templates."""
