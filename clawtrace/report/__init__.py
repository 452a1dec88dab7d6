"""Presentation: row formats, human renderings of chains, and graphs."""
