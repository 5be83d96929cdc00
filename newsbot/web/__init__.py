"""The web faces: JSON API, OpenAI-compatible API, Gradio page, widget and its static files, limits, feedback, Ingest tab."""
