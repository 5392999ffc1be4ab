"""Rasa input channels for kefu: the web chat, guarded built-in channels and WeChat."""
