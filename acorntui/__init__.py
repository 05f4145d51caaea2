"""acorntui: a terminal console for nightly rsync backup triage."""

__version__ = "0.1.0"
