"""Clients for the AI services: generation (fal, BFL, Hedra, OpenAI; the user's own
ComfyUI and A1111/Forge/SD.Next) and image rating (Anthropic, OpenAI).

Start at registry.build_providers(config["providers"]); each Provider shares
base.Provider's retries, circuit breaker, timeouts, key redaction and cost
estimates. Nothing here touches the catalog: a caller either feeds budgets in
through the `budget_check` hook, or prices and admits a request itself and
passes the estimate as `admitted=` (the daemon does, under the project's row
lock, in the transaction that records the request); either way the estimate is
computed once, and the caller records what comes back.
"""
