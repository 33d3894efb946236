"""What every layer of skdigits shares: its errors, optional-dependency messages,
atomic writes, downloads with a cache and SHA-256, npm, and the drawing pages' parts.

Standard library (and numpy) only; nothing here imports another skdigits layer.
"""
