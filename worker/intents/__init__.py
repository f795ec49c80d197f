"""The intent plugins. Importing this package registers every intent the worker knows."""

from worker.intents import ping, summary

__all__ = ["ping", "summary"]
