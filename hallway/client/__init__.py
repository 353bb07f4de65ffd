"""A Python client for Hallway: the HTTP API and the realtime connection (with resume).

api = HallwayClient("http://127.0.0.1:8000")
await api.login("ada@demo.hallway", "hallway-demo")
live = api.realtime()
await live.start()
await live.subscribe(conversation_id)
frame = await live.next_event()
"""

from hallway.client.http import ApiError, HallwayClient
from hallway.client.realtime import RealtimeClient

__all__ = ["ApiError", "HallwayClient", "RealtimeClient"]
