"""The simulator's REST routes, one module per area."""
