"""The `chokehold` command. Each module in this package adds its commands via ``register``."""
