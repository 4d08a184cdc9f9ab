"""FastAPI application (thin over geo)."""
