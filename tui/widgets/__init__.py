"""Widgets shared by Mailroom's screens."""
