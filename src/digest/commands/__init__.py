"""One module per CLI verb: each parses nothing, takes loaded config and services, and calls the layers."""
