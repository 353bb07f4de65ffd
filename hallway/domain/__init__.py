"""Use cases. Each takes the acting user (Actor) and returns plain data.

The domain owns transactions and the event log; it never imports api/ or realtime/.
"""
