"""Simulated residents and their devices, speaking protocol v1 over a real MQTT broker.

Used by ``anbu demo``, the benchmarks and end-to-end tests; the fleet simulator builds on it.
"""

from simulators.household import ScriptRun, SimulatedHousehold, Step, run_script

__all__ = ["ScriptRun", "SimulatedHousehold", "Step", "run_script"]
