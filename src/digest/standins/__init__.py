"""Local stand-ins for arXiv, the PDF host and an OpenAI-compatible chat API.

Real HTTP servers on 127.0.0.1, used by the tests, the benchmarks and `digest demo` alike.
"""
