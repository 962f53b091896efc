"""Clients for the AI services: generation (fal, BFL, Hedra, OpenAI; the user's own
ComfyUI and A1111/Forge/SD.Next) and image rating (Anthropic, OpenAI).

Start at registry.build_providers(config["providers"]); each Provider shares
base.Provider's retries, circuit breaker, timeouts, key redaction and cost
estimates. Nothing here touches the catalog: the caller feeds budgets in
through the `budget_check` hook and records what comes back.
"""
