"""Lambda event source mapping semantics: reading, batching, invoking, failure policies."""
