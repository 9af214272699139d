"""Anbu's escalation core: pure, typed rules that turn events and time into decisions.

Nothing in this package performs I/O or reads the clock; the hub hands it ``now``.
"""
