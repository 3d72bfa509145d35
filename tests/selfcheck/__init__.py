"""
The mixed-feature self-check: seeded scenarios that mix every feature of esm_sim at once.

``scenario.generate(seed)`` draws one scenario (tables, shard splits and
rollovers, writes, functions with misbehaving handlers, several mappings with
every setting, throttles, injected errors and duplicates, updates, disables
and deletes mid-run, and every ``Simulation`` behaviour keyword) as plain data.
``runner.check(spec)`` runs it and returns what broke: ``check_all``, an
independent count of fates from what the handlers saw and what reached the
destinations, termination, and (on request) determinism.

Replay one seed with ``python -m tests.selfcheck --seed N``; group the failures
of many seeds with ``python -m tests.selfcheck.triage --seeds 2000``.

Only the public API is used (``esm_sim``, ``sim.lambda_client``,
``esm_sim.invariants``, ``esm_sim.errors``), so the self-check keeps working
while the simulator's internals are rewritten.
"""
