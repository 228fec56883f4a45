"""The device contract shared by the server and the edge bridge."""
