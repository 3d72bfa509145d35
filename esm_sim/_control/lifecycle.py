"""
The mappings' life cycle on the virtual clock (spec 1.4): the states a mapping
reports, and the settling of each change after ``state_transition_delay``.

Creating -> Enabled (or Disabled when created with ``Enabled: false``);
Enabling -> Enabled; Disabling -> Disabled; Updating -> settled (new settings
take effect then); Deleting -> gone. While a mapping meant to be Enabled is
settling toward it, it counts as busy for ``run_until_idle``.
"""

from __future__ import annotations

from collections.abc import Callable

from esm_sim._engine.scheduler import Scheduler
from esm_sim._engine.timefmt import ms_to_datetime
from esm_sim._engine.trace import Trace, TraceEvent
from esm_sim._mapping.config import MappingConfig
from esm_sim._mapping.runtime import MappingRuntime


class MappingLifecycle:
    """Moves mappings through their states; the control plane asks, the clock settles."""

    def __init__(
        self,
        *,
        scheduler: Scheduler,
        trace: Trace,
        transition_ms: int,
        busy_changed: Callable[[int], None],
    ) -> None:
        self._scheduler = scheduler
        self._trace = trace
        self._transition_ms = transition_ms
        self._busy_changed = busy_changed

    def set_state(self, mapping: MappingRuntime, state: str) -> None:
        """Report ``state`` now (and count a mapping settling toward Enabled as busy)."""
        settling = state in ("Creating", "Enabling", "Updating") and mapping.enabled_intent
        if settling != mapping.settling:
            self._busy_changed(1 if settling else -1)
        mapping.settling = settling
        mapping.fields["State"] = state
        self._trace.append(
            TraceEvent(
                at_ms=self._scheduler.now_ms, kind="state", mapping=mapping.uuid, outcome=state
            )
        )

    def settle_later(self, mapping: MappingRuntime, pending: MappingConfig | None = None) -> None:
        """Settle the mapping's current change after the transition delay (spec 1.4, I)."""
        self._scheduler.call_later(self._transition_ms, self._settle, mapping, pending)

    def _settle(self, mapping: MappingRuntime, pending: MappingConfig | None) -> None:
        if mapping.fields["State"] == "Deleting":
            mapping.deleted = True
            self.set_state(mapping, "_gone")
            return
        if pending is not None:
            mapping.reconfigure(pending)
        mapping.fields["LastModified"] = ms_to_datetime(self._scheduler.now_ms)
        if mapping.enabled_intent:
            self.set_state(mapping, "Enabled")
            mapping.start()
        else:
            self.set_state(mapping, "Disabled")
            mapping.stop()
