"""Hostile inputs and faults: every edge attacked, through the real CLI and the stand-ins."""
