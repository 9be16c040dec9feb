"""Helpers shared by the tests: real services started on free ports."""
