"""Wingman: a real-time assistant for sales reps on live calls."""

__version__ = "0.1.0"
