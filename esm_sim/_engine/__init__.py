"""The domain-agnostic discrete-event kernel: virtual time, scheduling, seeded ids, the trace."""
