"""
esm_sim: simulate AWS Lambda event source mappings on DynamoDB Streams, deterministically.

Write items to a simulated table, attach a handler through a mapping created
with boto3's parameters, run virtual hours in milliseconds, and assert on what
AWS would have done: batches, retries, bisects, failure records, duplicates.

The public names are the ones below; everything in ``_``-modules is internal.
``esm_sim.errors`` holds the exceptions and the warning categories
(``SimulationWarning`` is re-exported here). Optional modules are imported
explicitly (they pull in optional dependencies).
"""

from esm_sim import errors as errors
from esm_sim._control.client import LambdaClient as LambdaClient
from esm_sim._engine.trace import Trace as Trace
from esm_sim._engine.trace import TraceEvent as TraceEvent
from esm_sim._lambda.function import Context as Context
from esm_sim._lambda.function import Function as Function
from esm_sim._lambda.function import Invocation as Invocation
from esm_sim._mapping.fates import Fate as Fate
from esm_sim._metrics import Metrics as Metrics
from esm_sim._redrive import RedriveResult as RedriveResult
from esm_sim._simulation import Simulation as Simulation
from esm_sim._simulation import StepResult as StepResult
from esm_sim._sinks import Bucket as Bucket
from esm_sim._sinks import Queue as Queue
from esm_sim._sinks import Topic as Topic
from esm_sim._streams.shard import Shard as Shard
from esm_sim._streams.table import Table as Table
from esm_sim._sweep import Estimate as Estimate
from esm_sim._sweep import replicate_seeds as replicate_seeds
from esm_sim._sweep import summarize as summarize
from esm_sim._sweep import sweep as sweep
from esm_sim._views import FatesSummary as FatesSummary
from esm_sim.errors import SimulationWarning as SimulationWarning

__version__ = "0.1.0"

__all__ = [
    "Bucket",
    "Context",
    "Estimate",
    "Fate",
    "FatesSummary",
    "Function",
    "Invocation",
    "LambdaClient",
    "Metrics",
    "Queue",
    "RedriveResult",
    "Shard",
    "Simulation",
    "SimulationWarning",
    "StepResult",
    "Table",
    "Topic",
    "Trace",
    "TraceEvent",
    "errors",
    "replicate_seeds",
    "summarize",
    "sweep",
]

# Public objects say they come from esm_sim, not from the private module that defines them.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        _obj.__module__ = "esm_sim"
del _name, _obj


def __dir__() -> list[str]:
    return [*__all__, "__version__"]
