"""Exposure scenarios: specification (spec), data-derived inputs (inputs), the Monte Carlo
model (model), runs and the exposure matrix (exposure), and the warehouse layer (store)."""
