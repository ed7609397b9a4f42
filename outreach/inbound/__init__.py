"""Inbound mail: replies, bounces, auto-replies, calendar replies and unsubscribes."""
