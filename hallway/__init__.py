"""Hallway: realtime messaging for a virtual office."""

__version__ = "0.1.0"
