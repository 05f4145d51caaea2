"""What the CLI and the console both call.

ingest, queries, exceptions, triage, manage, roles, audit, codes.
"""
