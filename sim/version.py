"""The package version, in one place (the manifest of an experiment directory records it)."""

__version__ = "0.2.0"
