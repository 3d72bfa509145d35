"""The control plane: the Lambda API's mapping operations, the mappings' life cycle, templates."""
