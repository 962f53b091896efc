"""The pure half of alice: bytes in, facts and plans out.

Nothing in this package touches the database, the network, or moves a file.
Every stage takes a file (read-only, with bounded reads) and returns plain
dataclasses, so it can be tested and fuzzed without a daemon.
"""
