"""mvctl: version control and release management for ML models, as reviewed code."""

__version__ = "0.1.0"
