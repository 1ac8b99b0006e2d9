"""Speech to text: one streaming interface, a local engine and cloud providers."""
