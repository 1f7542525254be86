"""Outgoing e-mail: an outbox written with its cause, delivered over SMTP."""
