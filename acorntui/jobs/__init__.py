"""Scheduled and long-running jobs: nightly, reparse, demo."""
