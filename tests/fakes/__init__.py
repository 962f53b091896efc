"""Local stand-ins for the AI services, on 127.0.0.1, for the provider tests.

Each fake speaks its service's documented HTTP shapes, checks the auth
header, and can be scripted to queue, fail, rate limit, stall, or answer
garbage. See server.FakeService for the scripting knobs.
"""
