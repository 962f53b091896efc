"""Rating files: the local stage and paid stages, with cache, budget and re-filing."""
