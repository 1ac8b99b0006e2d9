"""Search: the tenant's knowledge base, and web search providers."""
