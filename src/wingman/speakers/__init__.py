"""Who is speaking: speaker embeddings (CAM++ on ONNX Runtime), live diarization of one
channel, the rep's voiceprint, and the echo gate for stereo calls."""
