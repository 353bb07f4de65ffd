"""Live delivery: a per-process hub of WebSocket connections fed by a broker.

The broker carries frames between processes (in-memory for one process, Redis pub/sub for
many); the hub orders each conversation's events by seq and fans each frame out to local
connections. Nothing here is durable: the event log in the database is.
"""
