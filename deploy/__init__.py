"""Deployment: the local stack (emulators, worker, subscriptions) and the GCP set-up."""
