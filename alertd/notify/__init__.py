"""Notifications: pure rendering (`render`) and Apprise delivery with retries (`dispatch`)."""
