"""Delivering notifications: SMS providers and the outbox dispatcher that drives them."""
