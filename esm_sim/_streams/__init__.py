"""The DynamoDB Streams side: items, records, shards and streams."""
