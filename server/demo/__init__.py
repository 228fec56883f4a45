"""The demo estate 新外滩."""
