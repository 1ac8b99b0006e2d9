"""Socket.IO: validate client messages, turn them into events, emit results. No business logic."""
