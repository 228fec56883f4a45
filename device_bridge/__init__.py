"""fieldops device bridge: vendor device messages in, canonical MQTT v1 out.

One bridge process runs at the edge of each estate. Adapters (one module per
vendor family) translate what real devices emit; every v1 message goes through
a SQLite spool so that nothing is lost while the central broker is unreachable
(store-and-forward), and is replayed in order with its original id.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
