"""Infrastructure with no domain knowledge: database, extensions, caching, outbound HTTP."""
