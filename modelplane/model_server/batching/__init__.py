"""Dynamic batching: pure merge/split of tensors plus a queue that owns futures and deadlines."""
