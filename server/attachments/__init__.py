"""Photos and signatures: stored once by content, referenced by tickets, patrols and inspections."""
