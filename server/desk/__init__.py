"""The control desk: its live stream of ticket and device changes."""
