"""The agentic analysis layer: sales coach, search and Q&A agents, the gate in front of the
rep, and the worker that runs them per transcript block."""
