"""What every layer of skdigits shares: its errors, optional-dependency messages,
atomic writes, downloads with a cache and SHA-256, npm, the drawing pages' parts, and
the number checks the parameter rules and file readers share.

Standard library (and numpy) only; nothing here imports another skdigits layer.
"""
