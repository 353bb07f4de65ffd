"""HTTP routes and the WebSocket endpoint: parse, call the domain, shape the response."""
