"""The per-container monitor (our conmon). Stdlib only: it lives as long as its container."""
