"""The handbook's reviews: daily clearing and the monthly complaint summary."""
