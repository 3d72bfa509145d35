"""
SAM and CloudFormation templates: build a simulation from the template a user deploys.

This module owns the reading of templates. SAM templates are expanded to
CloudFormation by AWS's own ``aws-sam-translator`` (offline, with the managed
policy map it bundles), so ``Globals`` merge and ``Events`` become mappings as
in a deploy. From the result esm_sim builds:

* ``AWS::DynamoDB::Table``: ``TableName``, ``KeySchema`` with the key types from
  ``AttributeDefinitions``, ``StreamSpecification.StreamViewType`` (without it,
  a plain table: items, no stream) and ``TimeToLiveSpecification`` (the TTL);
* ``AWS::Lambda::Function`` (SAM functions included): ``FunctionName``,
  ``Timeout``, ``MemorySize``, ``Environment`` (``fn.environment``) and
  ``ReservedConcurrentExecutions`` (set through ``PutFunctionConcurrency``);
  a function with no stream event is built with no mapping;
* ``AWS::Lambda::EventSourceMapping`` (SAM ``Events`` of ``Type: DynamoDB``
  become these), created through ``sim.lambda_client.create_event_source_mapping``,
  so settings the template gets wrong are refused with AWS's own messages;
* ``AWS::SQS::Queue``, ``AWS::SNS::Topic`` and ``AWS::S3::Bucket``, the on-failure
  destinations.

Properties that change nothing in a simulation (``Role``, ``Runtime``,
``Layers``, ``BillingMode``, ...) are accepted without being resolved; a
property the resource type does not have, or one esm_sim does not model
(``ImportSourceSpecification``), is refused. Other resource types (roles, APIs,
permissions, ...) are ignored. Resources whose ``Condition`` is false are left
out; ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::If``,
``Fn::Select``, ``Fn::Split``, ``Fn::GetAZs``, ``Fn::FindInMap``,
``Fn::Base64`` and ``AWS::NoValue`` (short ``!`` tags or long forms) resolve
against built resources, ``Parameters`` (their ``Default``, or ``parameters=``),
``Mappings`` and pseudo parameters; anything else is refused with a
:class:`~esm_sim.errors.ConfigError` naming the resource, the property and its
line in the user's template (a property SAM took from ``Globals`` is named there).

A function's handler is ``handlers[logical_id]`` when given; otherwise it is
imported from the function's local ``CodeUri`` folder (relative to the
template's; ``Code`` as a folder for CloudFormation functions) and ``Handler``
(``app.handler``: module ``app``, attribute ``handler``), with the function's
environment in ``os.environ`` while it imports and the folder first on
``sys.path`` while it runs, as Lambda does. Each function keeps its own modules,
in ``sys.modules`` only while it runs, so templates that each have an ``app.py``
do not meet.

Physical names are the template's ``TableName``/``FunctionName``/... or, when
absent, the logical id. ``sim.tables`` and ``sim.functions`` also answer
``[logical_id]`` for resources whose physical name differs; iteration, ``len``,
``in`` and ``.get`` see physical names only, as the Lambda API does.

Templates need the ``templates`` extra (PyYAML, whose loader esm_sim extends
with CloudFormation's tags, and aws-sam-translator for SAM); JSON CloudFormation
templates need nothing.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from esm_sim._control.template import LogicalIdDict, load_template, problems_in, yaml_lines
from esm_sim._lambda.function import Handler
from esm_sim._simulation import Simulation

__all__ = [
    "LogicalIdDict",
    "from_template",
    "load_template",
    "validate_template",
    "yaml_lines",
]


def from_template(
    path: str | Path,
    *,
    handlers: Mapping[str, Handler] | None = None,
    seed: int = 0,
    parameters: Mapping[str, Any] | None = None,
    stack_name: str = "esm-sim",
    **sim_kwargs: Any,
) -> Simulation:
    """
    A :class:`~esm_sim.Simulation` with the tables, functions, destinations and
    mappings of a SAM or CloudFormation template.

    Args:
        path: the template, YAML or JSON.
        handlers: Python handlers by function logical id; a function without one
            runs the handler its ``Handler`` names in its ``CodeUri`` folder.
        seed: the simulation's seed.
        parameters: values for the template's Parameters (else their Default).
        stack_name: what ``AWS::StackName`` resolves to.
        sim_kwargs: passed to :class:`~esm_sim.Simulation` (start, region, ...).

    Raises:
        ConfigError: a handler for a logical id that is no function, a handler
            that cannot be imported, SAM refusing the template, an unsupported
            property or an intrinsic esm_sim cannot resolve (naming the line).
        ClientError, ParamValidationError: a setting AWS would refuse, with AWS's
            message (and a note naming the resource).
    """
    return Simulation.from_template(
        path,
        handlers=dict(handlers or {}),
        seed=seed,
        parameters=parameters,
        stack_name=stack_name,
        **sim_kwargs,
    )


def validate_template(
    path: str | Path, *, parameters: Mapping[str, Any] | None = None, **sim_kwargs: Any
) -> list[str]:
    """
    Every problem AWS (or esm_sim) would find in a template's mappings and functions.

    Expands SAM with AWS's translator (its refusals are the problems), builds the
    template with a do-nothing handler per function and collects every refused
    control-plane call and every handler whose module is not in its CodeUri
    folder (looked up, never imported), one line each naming the resource and
    its line; an empty list means AWS would accept it all.

    Raises:
        ConfigError: a template esm_sim cannot read (the first such problem).
    """
    return problems_in(Simulation(0, **sim_kwargs), path, parameters=parameters)
