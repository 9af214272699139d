"""Edge agents for AI speakers, phones and home sensors (store-and-forward; issue 3).

Only the ``edge`` extra's dependencies (paho-mqtt) may be imported here: it runs on a speaker.
"""
