"""Outputs of a day record: the publisher seam, the Markdown post, notifications."""
