"""From inbox to tree: watching, settling, the durable queue, filing, the long-running runner."""
