"""Thin HTTP handlers: parse, call a use case, map the result."""
