"""Reasoning engines behind one interface: the local engine, Gemini, OpenAI-compatible."""
