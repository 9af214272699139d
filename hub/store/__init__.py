"""Durable storage: tables, migrations and the small queries the hub runs against them."""
