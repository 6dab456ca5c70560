"""The web edge: page blueprints, forms, templating, charts, page cache, security headers,
error pages and the health check."""
