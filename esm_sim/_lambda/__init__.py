"""The Lambda side: functions, invocations, the control plane."""
