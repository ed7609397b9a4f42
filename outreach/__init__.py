"""Campaigns, mail and events (built by the campaigns, events and inbound-mail issues)."""
