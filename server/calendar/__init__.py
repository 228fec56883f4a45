"""The per-site working calendar: China's official holidays and 调休 days, plus site overrides."""
