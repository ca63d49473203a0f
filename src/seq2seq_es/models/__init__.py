"""Model family: presets as data, built as plain transformers models."""
