"""Web Push: keys, subscriptions, the outbox and its sender against real push-service emulators."""
