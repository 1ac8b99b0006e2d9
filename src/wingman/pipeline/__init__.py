"""The live-call pipeline: audio > STT > aggregator > bus, and the store writes along the way."""
