//! agentos's `/mcp`, driven by the official Python SDK's client.
