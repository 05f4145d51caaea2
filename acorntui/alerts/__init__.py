"""Alerts beyond the morning mail: notifications (notify), silent-success anomalies (anomaly).

Imports neither Textual nor the screens.
"""
