"""alice's local assistant interface: JSON-RPC 2.0 over a Unix socket, served by `alice run`.

protocol.py frames and checks messages, registry.py holds the methods with
their JSON Schemas (validation and rpc.discover come from the same
definitions), methods.py defines them, server.py serves them and client.py is
the synchronous client the CLI and the MCP bridge use.
"""
