"""BlogQueue shared core: settings, logging, errors, queue vocabulary and Redis access."""
