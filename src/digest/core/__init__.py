"""The day record and what every layer shares: record types and their store, ids and URLs, the window, config."""
