"""Protobuf schema bindings, converters and frame codec (grows with the server)."""
