"""Sites, buildings, units and residents: the estate the rest of fieldops serves."""
