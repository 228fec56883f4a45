"""Web Push to the specialists' phones: VAPID keys, subscriptions, a delivery log per ticket step."""
