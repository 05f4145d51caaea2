"""The console's screens (Textual). Each module holds one screen; widgets.py the shared parts."""
