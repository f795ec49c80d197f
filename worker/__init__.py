"""Cloud Run worker that runs Interactive Brokers trading intents delivered by Pub/Sub."""

__version__ = "0.1.0"
