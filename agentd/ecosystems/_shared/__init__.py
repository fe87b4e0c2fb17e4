"""What the ecosystem plug-ins share: the interface, the parser model, tool running."""
