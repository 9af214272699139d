"""Simulated residents and their devices.

* :mod:`simulators.household`: households speaking protocol v1 over a real MQTT broker
  (``anbu demo``, the benchmarks, end-to-end tests).
* :mod:`simulators.model`: a seeded model of a resident's days (routine, device mix, faults,
  incidents) producing device events and the ground truth, for virtual-time runs.
* :mod:`simulators.scenario`: the YAML scenario files in ``simulators/scenarios/``.

Nothing is imported here, so the pure model does not pull in an MQTT client.
"""
