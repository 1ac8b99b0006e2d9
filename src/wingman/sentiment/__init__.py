"""Customer sentiment: a packaged model (model.py) and live tracking per call (tracker.py)."""
