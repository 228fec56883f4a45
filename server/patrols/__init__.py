"""Patrols: QR-tagged checkpoints, checklist templates, patrol runs synced from the phone app."""
