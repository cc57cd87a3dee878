"""Papers for a window: the arXiv API and listing feed, then dedupe and filters."""
