"""The event bus: in-process, Redis Streams or Kafka behind one interface."""
