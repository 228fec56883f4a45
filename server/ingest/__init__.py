"""Device event ingestion: MQTT transport, embedded broker and the consumer that commits events."""
