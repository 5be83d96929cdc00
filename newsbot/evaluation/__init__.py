"""Evaluation: question-answer file formats, scoring, the report."""
