"""Start and stop an MQTT broker: ``ANBU_MQTT_URL=embedded``, `anbu demo` and the tests.

Two implementations share one interface, :class:`Broker` (:mod:`hub.broker.base`):

* :meth:`Broker.mosquitto` runs the ``mosquitto`` binary as a child process
  (:mod:`hub.broker.mosquitto`); it speaks MQTT 5.0, 3.1.1 and 3.1 and survives a restart.
* :meth:`Broker.embedded` runs the pure-Python ``amqtt`` broker in a background thread
  (:mod:`hub.broker.embedded`), for machines without Mosquitto; MQTT 3.1.1, state in memory.

:meth:`Broker.best` picks Mosquitto when the binary exists, else the embedded broker.

Factories start the broker before returning it (pass ``autostart=False`` to get a stopped one);
the context manager stops it and removes the temporary working directory it created::

    with Broker.best() as broker:
        client.connect(broker.host, broker.port)

Only processes this package started are ever signalled.
"""

from __future__ import annotations

from hub.broker.base import Broker, BrokerError, find_mosquitto, free_port
from hub.broker.embedded import EmbeddedBroker
from hub.broker.mosquitto import MosquittoBroker
from hub.broker.secure import BrokerSecurity, make_test_ca

__all__ = [
    "Broker",
    "BrokerError",
    "BrokerSecurity",
    "EmbeddedBroker",
    "MosquittoBroker",
    "find_mosquitto",
    "free_port",
    "make_test_ca",
]
