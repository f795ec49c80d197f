"""Trading on the session: config from Firestore, risk limits, idempotent orders, holdings."""
