"""Report definitions, renderers and mail."""
