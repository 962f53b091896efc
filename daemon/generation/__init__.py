"""Generating through providers: requests, budgets, references, delivery into the inbox."""
