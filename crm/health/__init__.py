"""Relationship health: scores, the dashboard and follow-ups."""
