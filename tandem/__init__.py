"""Tandem: one team for primary care and behavioral health."""

__version__ = "0.1.0"
