"""One module per command: `register(commands)` adds its parser, `run(args, connect)` does the work."""
