"""The Anbu hub: MQTT ingest, durable storage, escalation, notifications, HTTP API.

Adapters around the pure core in :mod:`alerts`; :mod:`hub.runtime` wires them together.
"""
