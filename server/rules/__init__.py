"""Alarm rules as data, and the small engine that turns device messages into tickets."""
