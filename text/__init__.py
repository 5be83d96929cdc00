"""Shared text handling below ingest and the chatbot: sentence splitting, speaker names."""
