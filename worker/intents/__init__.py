"""The intent plugins. Importing this package registers every intent the worker knows."""

from worker.intents import close_all, ping, summary

__all__ = ["close_all", "ping", "summary"]
